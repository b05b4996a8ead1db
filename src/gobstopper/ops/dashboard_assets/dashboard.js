// Follows a task's progress on its page over server-sent events (no dependencies).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const task = document.getElementById("task");
  if (!task || task.dataset.terminal === "yes") return;
  const source = new EventSource(task.dataset.events);
  source.addEventListener("task", (event) => {
    const data = JSON.parse(event.data);
    document.getElementById("status").textContent = data.status;
    document.getElementById("progress").value = data.progress;
    document.getElementById("percent").textContent = Math.round(data.progress) + "%";
    document.getElementById("message").textContent = data.message;
    document.getElementById("error").textContent = data.error || "";
    if (data.terminal) {
      source.close();
      task.dataset.terminal = "yes";
    }
  });
});
