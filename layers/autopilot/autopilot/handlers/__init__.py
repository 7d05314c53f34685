"""How each function is wired: its trigger, its entry point, and what it loads.

Each function's `app.py` imports one module of this package and nothing else of ours; a module here imports
its own function's logic and models and the shared `common` (adapters, the outbox, rejected events), never
another function's logic, HTTP client or chat SDK. SDKs load on first use: boto3 with the first AWS call,
Powertools' idempotency, parameters and batch utilities with the first event that needs them, httpx with
the first webhook, slack_sdk with the first Slack bot route (`make bench` measures what importing costs).

    function            module                      trigger → logic
    DeployFunction      handlers.deploy.handle_push          ECR push → autopilot.deploy (idempotent per event)
    InventoryFunction   handlers.inventory.handle_inventory  schedule, ECS API calls → autopilot.inventory
    RollbackFunction    handlers.rollback.handle_rollback    ECS deployment changes, alarms → autopilot.rollback
    NotifyFunction      handlers.notify.handle_notify        notification queue (SQS FIFO batch) → autopilot.notify
    SpotDrainFunction   handlers.spot_drain.handle_spot_drain  Spot warnings, hooks, own delay queue → autopilot.drain
    TaskWatchFunction   handlers.task_watch.handle_task_watch  stopped tasks, steady state → autopilot.taskwatch
    ChatOpsFunction     handlers.chatops.handle_chatops      Slack (Function URL) → autopilot.chatops.front;
                                                             its work queue → chatops.work; pause hooks → chatops.hooks

The CLI (`autopilot replay`, `plan`, `doctor`, `notify test`) calls the same entry points.
"""
