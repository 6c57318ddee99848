"""DIGIT billing as plain Python: masters, demands, bills, round-off, apportionment.

What each rule follows (egovernments/DIGIT-OSS, read for this package), and where it lives:

- `masters`: `BillingService.TaxHeadMaster`, `TaxPeriod` and `BusinessService` from MDMS, parsed
  as the real data has them: `order` as "2" or 2, booleans as true or "true".
- `demand`: the Demand; `validate_demand` is billing-service `DemandValidatorV1.validatedemandForCreate`
  with the codes of billing-service `util/Constants.java` (misspellings included: they are what
  clients match on); `round_off` is tl-calculator `DemandService.addRoundOffTaxHead`: fraction > .5
  adds 1 − f, < .5 adds −f, exactly .5 adds nothing; an earlier round-off line is netted out;
  `carry_advance` is `DemandService.apportionAdvanceIfExist`.
- `bill`: `make_bill` is billing-service `BillServicev2.prepareBill` / `getBillDetailForDemand` /
  `getExpiryDateForDemand`: one bill per consumer code, one detail per demand, one account detail
  per tax head (amount = tax − collected); a detail expires at 23:59:59 IST of the demand's
  `fixedBillExpiryDate` (when in the future), else of now + the demand's `billExpiryTime` (when
  > 0), else of today. The business service's `demandUpdateTime` plays no part (BillServicev2
  never reads it).
- `apportionment`: `apportion` is egov-apportion-service `OrderByPriority` (ApportionServiceV2's
  default) with the amount checks of collection-services `ReceiptEnricher.validateTaxAndPayment` /
  `ReceiptValidator`; see `apportion` for where it departs and why.
- `codes`: the constants and DIGIT's refusal codes.

Amounts are `Decimal` via `digitctl.domain.money`; times are DIGIT's epoch milliseconds.
`from digitctl.domain import billing as bl` gives every public name of the package.
"""
from __future__ import annotations

from digitctl.domain.billing.apportionment import (Allocation, apply_apportionment, apportion,
                                                   bill_status_after, payment_share, validate_payment_amount)
from digitctl.domain.billing.bill import (Bill, BillAccountDetail, BillDetail, expiry_date, make_bill,
                                          make_bills)
from digitctl.domain.billing.codes import (
    ADVANCE_CATEGORY, ADVANCE_PURPOSE, DEMAND_STATUSES, E_ADVANCE, E_AMT_FRACTION, E_AMT_NEGATIVE, E_AMT_ZERO,
    E_BILL_AMOUNT, E_BUSINESSSERVICE_NOTFOUND, E_DEMAND_DETAIL, E_DEMAND_STATUS, E_DUPLICATE, E_MIXED_CONSUMERS,
    E_NO_ADVANCE_HEAD, E_NO_DEMANDS, E_NO_TAXPERIODS, E_PART_PAYMENT, E_TAXHEADS_NOTFOUND, E_TAXPERIOD)
from digitctl.domain.billing.demand import (HALF, Demand, DemandDetail, carry_advance, round_off, round_off_code,
                                            validate_demand)
from digitctl.domain.billing.masters import (BillingMasters, BusinessServiceConfig, TaxHead, TaxPeriod,
                                             parse_bool, parse_int)

__all__ = [
    "ADVANCE_CATEGORY", "ADVANCE_PURPOSE", "DEMAND_STATUSES", "E_ADVANCE", "E_AMT_FRACTION", "E_AMT_NEGATIVE",
    "E_AMT_ZERO", "E_BILL_AMOUNT", "E_BUSINESSSERVICE_NOTFOUND", "E_DEMAND_DETAIL", "E_DEMAND_STATUS",
    "E_DUPLICATE", "E_MIXED_CONSUMERS", "E_NO_ADVANCE_HEAD", "E_NO_DEMANDS", "E_NO_TAXPERIODS", "E_PART_PAYMENT",
    "E_TAXHEADS_NOTFOUND", "E_TAXPERIOD", "HALF",
    "Allocation", "Bill", "BillAccountDetail", "BillDetail", "BillingMasters", "BusinessServiceConfig", "Demand",
    "DemandDetail", "TaxHead", "TaxPeriod",
    "apply_apportionment", "apportion", "bill_status_after", "carry_advance", "expiry_date", "make_bill",
    "make_bills", "parse_bool", "parse_int", "payment_share", "round_off", "round_off_code", "validate_demand",
    "validate_payment_amount",
]
