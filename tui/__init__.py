"""The counter and the inbox in a terminal (Textual): screens and widgets over digitctl.services
and digitctl.session. No SQL and no business rule here: every refusal is a service's DigitError,
shown with its code. `digitctl tui` (digitctl/cli/tui.py) starts `tui.app.DigitApp`."""
