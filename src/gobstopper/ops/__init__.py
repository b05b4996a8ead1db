"""Operations: health probes, metrics, access log, tracing, the task dashboard.

Everything here is opt-in and imported only when enabled (``app.enable_health``,
``app.enable_metrics``, ``app.enable_access_log``, ``app.enable_tracing``,
``gobstopper.ops.dashboard.tasks_dashboard``). An app that enables none of
them runs no code from this package.
"""
