"""How the Redis task backend lays tasks out in Redis, and its Lua scripts.

Under a prefix ``P`` (default ``gobstopper:tasks``):

- ``P:task:<id>``: the record, a hash: ``status`` (authoritative), ``owner``
  (the attempt running it: consumer name and message id, '' when none),
  ``info`` (the whole TaskInfo as JSON: the scripts pass it through, never
  rebuild it, so a new field such as ``trace_parent`` needs no change here)
  and ``stream``. Finished tasks expire
  after the storage's ``result_ttl``.
- ``P:queue:<category>:<priority>``: the ready queue, one stream per
  category and priority; each entry carries a task id and is read through the
  consumer group ``gobstopper``. Workers read the highest priority first.
- ``P:delayed``: a sorted set of tasks waiting out a retry backoff (score:
  when they are due, in ms).
- ``P:index``: a sorted set of every task id by creation time, for listing
  (``SCAN``: a slice of it, its records filtered by status and queue).

Every change of a record is a compare-and-set on (status, owner) in one
script, so a stale worker (one whose task was handed to another after the
visibility timeout) can never overwrite the new attempt's state.

NOTE: the scripts touch keys they compute (records named in stream
entries), so this layout needs one Redis server (or a replica set), not
Redis Cluster.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from .models import TaskInfo, TaskPriority, TaskStatus

GROUP = "gobstopper"
#: Highest first: the order workers read the priority streams in.
PRIORITIES = sorted({priority.value for priority in TaskPriority}, reverse=True)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TaskInfo).decode
_NAIVE_EPOCH = datetime(1970, 1, 1)


class _Named(msgspec.Struct):
    name: str


# PERF: msgspec skips the fields _Named lacks, so a search need not build TaskInfos.
_decode_name = msgspec.json.Decoder(_Named).decode


class RedisKeys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.record_prefix = f"{prefix}:task:"
        self.queue_prefix = f"{prefix}:queue:"
        self.index = f"{prefix}:index"
        self.delayed = f"{prefix}:delayed"

    def record(self, task_id: str) -> str:
        """The hash holding task ``task_id``."""
        return self.record_prefix + task_id

    def stream(self, category: str, priority: int) -> str:
        """The ready stream of ``category`` at ``priority``."""
        return f"{self.queue_prefix}{category}:{priority}"

    def streams(self, category: str) -> list[str]:
        """The category's ready streams, highest priority first."""
        return [self.stream(category, priority) for priority in PRIORITIES]


def encode_info(info: TaskInfo) -> str:
    """The JSON text stored in a record's ``info`` field."""
    return _encode(info).decode()


def decode_record(status: str | None, info: str | None) -> TaskInfo | None:
    """Build the TaskInfo of a record (None for a missing record)."""
    if status is None or info is None:
        return None
    task = _decode(info)
    task.status = TaskStatus(status)
    return task


def decode_name(info: str) -> str:
    """The task name in a record's ``info``, without building the whole TaskInfo."""
    return _decode_name(info).name


def epoch_ms(moment: datetime) -> float:
    """``moment`` in ms since the epoch; a naive datetime is taken as UTC.

    PERF: a naive one is subtracted from the naive epoch (the same sum
    ``timestamp()`` does, so the same float) without first attaching UTC:
    0.3 µs instead of 1.5 per ``add_task``.
    """
    if moment.tzinfo is None:
        return (moment - _NAIVE_EPOCH).total_seconds() * 1000
    return moment.timestamp() * 1000


# KEYS: record, stream, index. ARGV: task id, info JSON, index score.
SUBMIT = """
redis.call('HSET', KEYS[1], 'status', 'pending', 'owner', '', 'info', ARGV[2], 'stream', KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
return 1
"""

# KEYS: the category's streams, highest priority first.
# ARGV: group, consumer, how many, record key prefix.
# Returns {stream, message id, task id, status, owner, info} per entry.
FETCH = """
local want = tonumber(ARGV[3])
local out = {}
for _, key in ipairs(KEYS) do
  if want <= 0 then break end
  local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
                          'STREAMS', key, '>')
  if read then
    for _, entry in ipairs(read[1][2]) do
      local task = entry[2][2]
      local rec = redis.call('HMGET', ARGV[4] .. task, 'status', 'owner', 'info')
      table.insert(out, {key, entry[1], task, rec[1], rec[2], rec[3]})
      want = want - 1
    end
  end
end
return out
"""

# Compare-and-set a record's (status, owner); optionally ack the message,
# set a TTL, and queue the task again now or later.
# KEYS: record, stream, delayed set.
# ARGV: expected status, expected owner, new status, new owner, info JSON,
#       message id to ack ('' for none), group, ttl ms (>0 expire, <0 persist,
#       0 leave), then: 'none' | 'enqueue' | 'delay', due ms, task id.
SWAP = """
local now = redis.call('HMGET', KEYS[1], 'status', 'owner')
if now[1] ~= ARGV[1] or (now[2] or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'owner', ARGV[4], 'info', ARGV[5])
if ARGV[6] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[7], ARGV[6])
  redis.call('XDEL', KEYS[2], ARGV[6])
end
local ttl = tonumber(ARGV[8])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) elseif ttl < 0 then
  redis.call('PERSIST', KEYS[1]) end
if ARGV[9] == 'enqueue' then redis.call('XADD', KEYS[2], '*', 'id', ARGV[11])
elseif ARGV[9] == 'delay' then redis.call('ZADD', KEYS[3], ARGV[10], ARGV[11]) end
return 1
"""

#: The scripts ``BATCH`` can run, by the name a batched call gives.
BATCHED = {"submit": SUBMIT, "swap": SWAP}


def _batch_script(scripts: dict[str, str]) -> str:
    """A script running many calls of ``scripts``, each under ``pcall``.

    Each script's text becomes a function of (KEYS, ARGV), so it runs
    unchanged. ARGV[1] is a JSON array of ``[name, keys, args]``; the reply
    is a JSON array of ``[1, reply]`` or ``[0, error message]`` per call, in
    order (one string to read, not a nested array of 3 replies per call).
    """
    functions = "".join(
        f"scripts[{name!r}] = function(KEYS, ARGV)\n{body}end\n" for name, body in scripts.items()
    )
    return (
        "local scripts = {}\n"
        + functions
        + """local replies = {}
for i, call in ipairs(cjson.decode(ARGV[1])) do
  local ok, reply = pcall(scripts[call[1]], call[2], call[3])
  if ok then
    replies[i] = {1, reply or false}
  else
    replies[i] = {0, type(reply) == 'table' and reply.err or tostring(reply)}
  end
end
return cjson.encode(replies)
"""
    )


# Many SUBMIT and SWAP calls in one script call (``redis_batch``).
BATCH = _batch_script(BATCHED)

# Move retries whose backoff is over back to their stream.
# KEYS: delayed set. ARGV: now ms, record key prefix, at most how many.
PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, task in ipairs(due) do
  redis.call('ZREM', KEYS[1], task)
  local rec = redis.call('HMGET', ARGV[2] .. task, 'status', 'stream')
  if rec[1] == 'retry' then
    redis.call('HSET', ARGV[2] .. task, 'status', 'pending')
    redis.call('XADD', rec[2], '*', 'id', task)
  end
end
return #due
"""

# Reset the idle time of messages this consumer still owns (a heartbeat for
# running tasks), never taking one another consumer has claimed since.
# KEYS: stream. ARGV: group, consumer, message ids.
HEARTBEAT = """
for i = 3, #ARGV do
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)[1]
  if entry and entry[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return 1
"""

# Read a slice of the creation index, newest first, from a cursor, keeping
# the tasks whose status and queue match; ids whose record is gone (expired)
# leave the index. The cursor is a score and how many ids at that score were
# read already (not an offset: LIMIT walks every entry it skips).
# KEYS: index. ARGV: cursor score ('+inf' to start), ids at it to pass over,
# lowest score (Redis syntax), how many, record key prefix, queue stream
# prefix, status ('' for any), '=' .. category ('' for any), priority (''
# for any), '1' to return each info too, matches to pass over before
# returning any, most to return (-1: all).
# Returns {ids read, matches, next cursor score, ids at it,
#          {task id, status[, info]} per match returned, flattened}.
SCAN = """
local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[3], 'WITHSCORES',
                        'LIMIT', ARGV[2], ARGV[4])
local fields = ARGV[10] == '1' and {'status', 'stream', 'info'} or {'status', 'stream'}
local head, skip, take = ARGV[6], tonumber(ARGV[11]), tonumber(ARGV[12])
local top, ties, gone, out, matched = ARGV[1], tonumber(ARGV[2]), {}, {}, 0
for i = 1, #rows, 2 do
  local id, score = rows[i], rows[i + 1]
  local rec = redis.call('HMGET', ARGV[5] .. id, unpack(fields))
  if not rec[1] then
    table.insert(gone, id)
  else
    if score == top then ties = ties + 1 else top, ties = score, 1 end
    local keep = ARGV[7] == '' or rec[1] == ARGV[7]
    if keep and (ARGV[8] ~= '' or ARGV[9] ~= '') then
      local category, priority
      if rec[2] and string.sub(rec[2], 1, #head) == head then
        category, priority = string.match(string.sub(rec[2], #head + 1), '^(.*):(%d+)$')
      end
      keep = category ~= nil and (ARGV[8] == '' or '=' .. category == ARGV[8])
        and (ARGV[9] == '' or priority == ARGV[9])
    end
    if keep then
      matched = matched + 1
      if matched > skip and (take < 0 or matched <= skip + take) then
        table.insert(out, id)
        table.insert(out, rec[1])
        if ARGV[10] == '1' then table.insert(out, rec[3] or false) end
      end
    end
  end
end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return {#rows / 2, matched, top, ties, out}
"""
