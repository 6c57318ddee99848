"""An application: applicant (masked per the security policy), details, documents, SLA, history;
F8 takes an action the workflow allows this user, with a comment and an assignee, confirmed first."""
from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from digitctl.clock import IST
from digitctl.domain.workflow import sla_text
from tui.labels import label
from tui.screens.base import DeskModal, DeskScreen
from tui.widgets import ErrorLine


def _when(ms: Any) -> str:
    if not isinstance(ms, int):
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=IST).strftime("%d/%m %H:%M")


def _documents(docs: Any) -> str:
    """'none', or each document's type (its file store id when it has none)."""
    if not docs:
        return label("TUI_NONE", "none")
    return ", ".join(str(d.get("documentType") or d.get("fileStoreId") or "?") if isinstance(d, dict) else str(d)
                     for d in docs)


def detail_text(doc: dict[str, Any], history: list[dict[str, Any]]) -> str:
    wf = doc.get("workflow") or {}
    ap = doc.get("applicant") or {}
    sla = wf.get("slaLeftMs")
    lines = [f"{label('TUI_SERVICE', 'Service')}: {doc.get('businessService')}   "
             f"{label('TUI_STATUS', 'Status')}: {wf.get('applicationStatus') or doc.get('applicationStatus')}   "
             f"SLA: {sla_text(sla)}{' BREACHED' if isinstance(sla, int) and sla < 0 else ''}",
             f"{label('TUI_APPLICANT', 'Applicant')}: {ap.get('name') or '-'}  {ap.get('mobileNumber') or ''}   "
             f"{label('TUI_LOCALITY', 'Locality')}: {doc.get('locality') or '-'}",
             f"{label('TUI_ASSIGNED', 'Assigned to')}: "
             f"{', '.join(a.get('userName') or '' for a in wf.get('assignes') or []) or '-'}",
             f"{label('TUI_DOCUMENTS', 'Documents')}: {_documents(doc.get('documents'))}   "
             f"{label('TUI_ACTIONS', 'You may')}: "
             f"{', '.join(a['action'] for a in wf.get('nextActions') or []) or '-'}",
             label("TUI_HISTORY", "History") + ":"]
    for pi in history:
        lines.append(f"  {_when((pi.get('auditDetails') or {}).get('createdTime'))} {pi.get('action') or '':<10} "
                     f"{(pi.get('assigner') or {}).get('userName') or '':<20} "
                     f"→ {(pi.get('state') or {}).get('applicationStatus') or ''}"
                     + (f"  “{pi['comment']}”" if pi.get("comment") else ""))
    return "\n".join(lines)


class ApplicationScreen(DeskScreen):
    BINDINGS = [Binding("f8", "act", label("TUI_KEY_ACT", "Act")),
                Binding("escape", "back", label("TUI_KEY_BACK", "Back"))]

    def __init__(self, application_no: str, act: bool = False) -> None:
        super().__init__()
        self.application_no = application_no
        self.act_when_shown = act
        self.doc: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(escape(self.application_no), classes="title")
        yield ErrorLine(id="error")
        with VerticalScroll(id="detail-box"):
            yield Static(label("TUI_LOADING", "loading…"), id="detail")
        yield from self.chrome()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def load(self) -> None:
        self.job("show", self.read)

    def read(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from digitctl.services import applications, workflow

        doc = applications.show(self.desk.app, self.desk.ctx(), self.application_no)
        hist = workflow.history(self.desk.app, self.desk.ctx(), str(doc["tenantId"]), self.application_no)
        return doc, hist

    def done_show(self, result: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
        self.doc, hist = result
        self.query_one("#detail", Static).update(escape(detail_text(self.doc, hist)) + "\n\n"
                                                 + label("TUI_ACT_HINT", "F8: act · Esc: back"))
        if self.act_when_shown:
            self.act_when_shown = False
            self.action_act()

    def action_act(self) -> None:
        if self.doc is None:
            return
        wf = self.doc.get("workflow") or {}
        actions = [a["action"] for a in wf.get("nextActions") or []]
        if not actions:
            from tui.jobs import Refusal

            self.refused("act", Refusal("NO_ACTION_ALLOWED", label("TUI_NO_ACTION", "the workflow allows you no "
                                                                   "action on this application now")))
            return
        self.app.push_screen(ActionModal(self.application_no, actions, wf.get("state")), self.acted)

    def acted(self, pi: dict[str, Any] | None) -> None:
        if pi:
            self.say(f"{pi.get('action')}: {self.application_no} → {(pi.get('state') or {}).get('applicationStatus')}")
            self.digit.refresh_status()
            self.load()

    def action_back(self) -> None:
        self.dismiss(None)


class ActionModal(DeskModal):
    """Action (only those allowed), comment, assignee, a document; Enter asks for confirmation, then
    acts with the state it was shown (STATE_CHANGED when someone acted first)."""

    BINDINGS = [Binding("escape", "close", label("TUI_KEY_BACK", "Back"))]

    def __init__(self, application_no: str, actions: list[str], state: Any) -> None:
        super().__init__()
        self.application_no = application_no
        self.actions = actions
        self.state = state

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(f"{label('TUI_ACT_TITLE', 'Act on')} {escape(self.application_no)}", classes="title")
            with Grid(id="pay-grid"):
                yield Label(label("TUI_ACTION", "Action"))
                yield Select([(a, a) for a in self.actions], value=self.actions[0], allow_blank=False, id="action")
                yield Label(label("TUI_COMMENT", "Comment"))
                yield Input(id="comment")
                yield Label(label("TUI_ASSIGNEE", "Assign to (user)"))
                yield Input(id="assignee")
                yield Label(label("TUI_DOCUMENT", "Attach (file path)"))
                yield Input(id="document")
            yield ErrorLine(id="error")
            yield Static(label("TUI_ACTION_HINT", "Enter: review · Esc: back"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#comment", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from tui.screens.modals import ConfirmModal

        action = str(self.query_one("#action", Select).value)
        comment = self.query_one("#comment", Input).value.strip()
        assignee = self.query_one("#assignee", Input).value.strip()
        document = self.query_one("#document", Input).value.strip()
        body = f"{action} {self.application_no}" + (f"\n“{comment}”" if comment else "") + \
            (f"\n→ {assignee}" if assignee else "") + (f"\n+ {document}" if document else "")
        self.app.push_screen(ConfirmModal(label("TUI_ACT_CONFIRM", "Take this action?"), body),
                             lambda yes: self.confirmed(yes, action, comment, assignee, document))

    def confirmed(self, yes: bool | None, action: str, comment: str, assignee: str, document: str) -> None:
        if yes:
            self.job("act", self.act, action, comment or None, assignee, document)

    def act(self, action: str, comment: str | None, assignee: str, document: str) -> dict[str, Any]:
        """The assignee's user name to their uuid, the document to the file store, then the
        action, refused STATE_CHANGED if the application moved since it was shown."""
        from pathlib import Path

        from digitctl.services import applications, filestore, users

        app, ctx = self.desk.app, self.desk.ctx()
        assignees = users.uuids_of(app, [assignee]) if assignee else None
        docs = None
        if document:
            path = Path(document).expanduser()
            stored = filestore.upload(app, ctx, self.desk.tenant, path, path.name, module="workflow")
            docs = [{"documentType": "DOCUMENT", "fileStoreId": stored["files"][0]["fileStoreId"]}]
        return applications.transition(app, ctx, self.application_no, action, comment, assignees, docs,
                                       expected_state=self.state)

    def done_act(self, pi: dict[str, Any]) -> None:
        self.dismiss(pi)

    def action_close(self) -> None:
        self.dismiss(None)
