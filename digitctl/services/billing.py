"""Billing: demands and bills (DIGIT billing-service v2), one name for the three modules that hold it.

- `services.demands`: `/billing-service/demand/_create` and `_search`, the BillingService masters,
  stored rows <-> domain Demand, `store_demand_in` for calculators.
- `services.bills`: `/billing-service/bill/v2/_fetchbill` (one ACTIVE bill per consumer code,
  serialised per consumer code), `bill_in` / `settle_bill_in` for the payment services.
- `services.settlement`: `record_collection_in` / `reverse_collection_in`, how a payment (and its
  cancel or dishonour) changes demands, and the guard that holds PAY while a demand is unpaid.
  Together these are the one writer of the demand and bill tables.
- The trade-licence fee calculator is `digitctl.services.tl_calculator`.

Callers use `billing.<name>`; the names below are the whole public surface. Amounts are Decimal
in the domain, integer paise in the store and decimal strings in the JSON these modules write or
return (exact, and what `--output json` prints anyway).
"""
from __future__ import annotations

from digitctl.services.bills import (BILL_FALLBACK_FORMAT, BILL_ID_NAME, FETCH_BILL, RETRY_SQLSTATES, bill_from_digit,
                                     bill_in, bill_lock_key, expire, fetch_bill, lock_consumer_code, present_bill,
                                     settle_bill_in)
from digitctl.services.demands import (DEMAND_CREATE, DEMAND_SEARCH, E_EMPLOYEE_PAYER, E_USER_NOT_FOUND, MODULE,
                                       StoredPayer, billing_masters, create_demands, demand_hash_now, demand_json,
                                       demand_of, demands_hash, existing_demands, jsonable, list_demands,
                                       store_demand_in)
from digitctl.services.settlement import (apply_collection_in, record_collection_in,
                                          refuse_payment_action_while_unpaid, register, reverse_collection_in)

__all__ = [
    "apply_collection_in", "BILL_FALLBACK_FORMAT", "BILL_ID_NAME", "DEMAND_CREATE", "DEMAND_SEARCH", "E_EMPLOYEE_PAYER", "E_USER_NOT_FOUND",
    "FETCH_BILL", "MODULE", "RETRY_SQLSTATES", "StoredPayer", "bill_from_digit", "bill_in", "bill_lock_key",
    "billing_masters", "create_demands", "demand_hash_now", "demand_json", "demand_of", "demands_hash", "existing_demands",
    "expire", "fetch_bill", "jsonable", "list_demands", "lock_consumer_code", "present_bill", "record_collection_in",
    "refuse_payment_action_while_unpaid", "register", "reverse_collection_in", "settle_bill_in", "store_demand_in",
]
