"""Workflow v2: load DIGIT BusinessService definitions as they are (versioned), move business
objects through them with DIGIT's rules, and keep the history and SLAs.

Every transition inserts a process-instance row numbered per business object; the unique
(tenant, business id, seq_no) makes two concurrent transitions on the same state impossible:
the loser gets STATE_CHANGED ("reload"). Modules hook into "entering a state" (billing raises a
demand when NewTL enters PENDINGPAYMENT) through `on_enter`, and are asked before every
transition through `guard` (a guard may refuse: billing refuses PAY while a demand is unpaid).

Who may act (WorkflowValidator): a state-changing action needs one of its roles, one that keeps
the state any role of the service, "*" any role; a citizen acts only on what is theirs and, when
citizens are assigned, only as one of them. Stricter than DIGIT: a payment action (PAY, or any
action SYSTEM_PAYMENT may take) is taken only by the payment itself (`by_payment`), never through
`workflow transition`, whatever roles the definition gives it.

Where the parts live (this module re-exports each name callers use, so `workflow.X` keeps
working): definitions in `workflow_definitions`, transitions and the hook/guard registry in
`workflow_transition`, reading (instances, history, next actions, inbox counts) in
`workflow_history`, auto-escalation in `workflow_escalation`; the pure rules in
`digitctl.domain.workflow`."""
from __future__ import annotations

from digitctl.services.workflow_definitions import (CREATE_ACTION, SEARCH_DEFINITION_ACTION, ApplyReport,
                                                    apply, business_service_json, definition_tenant,
                                                    get_definition, list_definitions, load, read_files,
                                                    retarget)
from digitctl.services.workflow_escalation import AUTO_ESCALATE_ROLE, DAY_MS, Escalation, escalate, escalations
from digitctl.services.workflow_history import (SEARCH_ACTION, actionable, count_by_status, current_state,
                                                history, instance_json, next_actions)
from digitctl.services.workflow_transition import (_GUARDS, _HOOKS, ALL_SERVICES, PAYMENT_ACTIONS,
                                                   PAYMENT_ROLE, SEND_BACK_TO_CITIZEN, TRANSITION_ACTION,
                                                   UNSET, Hook, guard, is_payment_action, on_enter,
                                                   transition, transition_in)

__all__ = [
    "ALL_SERVICES", "AUTO_ESCALATE_ROLE", "CREATE_ACTION", "DAY_MS", "PAYMENT_ACTIONS", "PAYMENT_ROLE",
    "SEARCH_ACTION", "SEARCH_DEFINITION_ACTION", "SEND_BACK_TO_CITIZEN", "TRANSITION_ACTION", "UNSET",
    "_GUARDS", "_HOOKS", "ApplyReport", "Escalation", "Hook", "actionable", "apply", "business_service_json",
    "count_by_status", "current_state", "definition_tenant", "escalate", "escalations", "get_definition",
    "guard", "history", "instance_json", "is_payment_action", "list_definitions", "load", "next_actions",
    "on_enter", "read_files", "retarget", "transition", "transition_in",
]
