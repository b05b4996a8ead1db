// Keeps the dashboard's pages live over server-sent events (no dependencies):
// a task's page follows its progress; the list updates the rows it shows and
// says when new tasks match its filters.
"use strict";

function followTask(task) {
  if (task.dataset.terminal === "yes") return;
  const source = new EventSource(task.dataset.events);
  source.addEventListener("task", (event) => {
    const data = JSON.parse(event.data);
    document.getElementById("status").textContent = data.status;
    document.getElementById("progress").value = data.progress;
    document.getElementById("percent").textContent = Math.round(data.progress) + "%";
    document.getElementById("message").textContent = data.message;
    document.getElementById("error").textContent = data.error || "";
    for (const field of ["retries", "started", "completed", "elapsed", "result"]) {
      document.getElementById(field).textContent = data[field];
    }
    document.getElementById("retry-form").hidden = data.status !== "failed";
    document.getElementById("cancel-form").hidden = data.status !== "pending";
    if (data.terminal) {
      source.close();
      task.dataset.terminal = "yes";
    }
  });
}

function followList(table) {
  const source = new EventSource(table.dataset.events);
  source.addEventListener("task", (event) => {
    const data = JSON.parse(event.data);
    const row = table.querySelector(`tr[data-task-id="${CSS.escape(data.id)}"]`);
    if (!row) return;
    const status = row.querySelector(".status");
    status.textContent = data.status;
    status.className = "status status-" + data.status;
    row.querySelector(".progress").textContent = Math.round(data.progress) + "%";
  });
  source.addEventListener("new", (event) => {
    const data = JSON.parse(event.data);
    const link = document.getElementById("new-tasks");
    const plural = data.count === 1 && !data.more ? "" : "s";
    link.textContent = `${data.count}${data.more ? "+" : ""} new task${plural}: show`;
    link.hidden = false;
  });
  window.addEventListener("pagehide", () => source.close());
}

document.addEventListener("DOMContentLoaded", () => {
  const task = document.getElementById("task");
  if (task) followTask(task);
  const table = document.getElementById("tasks");
  if (table && table.dataset.events) followList(table);
});
