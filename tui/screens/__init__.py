"""One screen per file; `base.DeskScreen` gives each the desk, the status line and workers."""
