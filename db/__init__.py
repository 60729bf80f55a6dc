"""The feedback store: every prediction the app makes, with the label a person gave it.

Modules, in the order data flows through them:

- `db.engine`     -- engines and `session_scope()`; nothing connects at import time.
- `db.schema`     -- the two tables (`model_versions`, `predictions`), SQLAlchemy 2 typed.
- `db.migrate`    -- Alembic to head (`upgrade_to_head`), with readable errors.
- `db.submission` -- `Submission`, what the app hands the store, checked when made.
- `db.repository` -- what the app writes and reads, as plain functions taking a Session.
- `db.feedback`   -- `FeedbackStore`: submit, flush, status; owns the outbox (`db.outbox`)
                     and the verdict "can the database be used right now?".
- `db.views`      -- the SQL analytics views (public API) as selectable constructs.
- `db.analytics`  -- the dashboard's statistics, read from the views as DataFrames.
- `db.roles`      -- the PostgreSQL app and analyst roles.
- `db.drawings`   -- drawings in and out as plain values (import, export, fine-tuning).
- `db.drawing_file` -- the JSON Lines file of drawings that import and export use.
- `db.champion`   -- which model version serves (the "champion" alias) and its audit.
- `db.jobs`       -- fine-tune jobs: one at a time across replicas, progress, report.

The package never imports torch: images arrive as 784 bytes (or a uint8 array).
"""

from db.errors import DatabaseUnavailableError, FeedbackStoreError, UnknownRevisionError

__all__ = ["DatabaseUnavailableError", "FeedbackStoreError", "UnknownRevisionError"]
