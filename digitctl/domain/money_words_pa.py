"""Amounts in Punjabi words (Gurmukhi) for pa_IN receipts, as digitctl.domain.money does Hindi:
1-99 have their own words, then ਸੌ, ਹਜ਼ਾਰ, ਲੱਖ, ਕਰੋੜ on the Indian scale."""
from __future__ import annotations

from digitctl.domain.money import IndicWords, MoneyLike

_PA_BELOW_HUNDRED = (
    "ਸਿਫ਼ਰ ਇੱਕ ਦੋ ਤਿੰਨ ਚਾਰ ਪੰਜ ਛੇ ਸੱਤ ਅੱਠ ਨੌਂ "
    "ਦਸ ਗਿਆਰਾਂ ਬਾਰਾਂ ਤੇਰਾਂ ਚੌਦਾਂ ਪੰਦਰਾਂ ਸੋਲ਼ਾਂ ਸਤਾਰਾਂ ਅਠਾਰਾਂ ਉੱਨੀ "
    "ਵੀਹ ਇੱਕੀ ਬਾਈ ਤੇਈ ਚੌਵੀ ਪੱਚੀ ਛੱਬੀ ਸਤਾਈ ਅਠਾਈ ਉਣੱਤੀ "
    "ਤੀਹ ਇਕੱਤੀ ਬੱਤੀ ਤੇਤੀ ਚੌਂਤੀ ਪੈਂਤੀ ਛੱਤੀ ਸੈਂਤੀ ਅਠੱਤੀ ਉਨਤਾਲੀ "
    "ਚਾਲੀ ਇਕਤਾਲੀ ਬਤਾਲੀ ਤਿਰਤਾਲੀ ਚੁਤਾਲੀ ਪੰਤਾਲੀ ਛਿਆਲੀ ਸੰਤਾਲੀ ਅਠਤਾਲੀ ਉਣੰਜਾ "
    "ਪੰਜਾਹ ਇਕਵੰਜਾ ਬਵੰਜਾ ਤਰਵੰਜਾ ਚਰਵੰਜਾ ਪਚਵੰਜਾ ਛਪੰਜਾ ਸਤਵੰਜਾ ਅਠਵੰਜਾ ਉਣਾਠ "
    "ਸੱਠ ਇਕਾਠ ਬਾਹਠ ਤਰੇਠ ਚੌਂਠ ਪੈਂਠ ਛਿਆਠ ਸਤਾਹਠ ਅਠਾਹਠ ਉਣੱਤਰ "
    "ਸੱਤਰ ਇਕਹੱਤਰ ਬਹੱਤਰ ਤਿਹੱਤਰ ਚੌਹੱਤਰ ਪਚੱਤਰ ਛਿਹੱਤਰ ਸਤੱਤਰ ਅਠੱਤਰ ਉਣਾਸੀ "
    "ਅੱਸੀ ਇਕਾਸੀ ਬਿਆਸੀ ਤਿਰਾਸੀ ਚੁਰਾਸੀ ਪਚਾਸੀ ਛਿਆਸੀ ਸਤਾਸੀ ਅਠਾਸੀ ਉਣਾਨਵੇਂ "
    "ਨੱਬੇ ਇਕਾਨਵੇਂ ਬਿਆਨਵੇਂ ਤਿਰਾਨਵੇਂ ਚੁਰਾਨਵੇਂ ਪਚਾਨਵੇਂ ਛਿਆਨਵੇਂ ਸਤਾਨਵੇਂ ਅਠਾਨਵੇਂ ਨੜਿੰਨਵੇਂ").split()
assert len(_PA_BELOW_HUNDRED) == 100


PUNJABI = IndicWords(_PA_BELOW_HUNDRED, ("ਸੌ", "ਹਜ਼ਾਰ", "ਲੱਖ", "ਕਰੋੜ"), ("ਰੁਪਏ", "ਅਤੇ", "ਪੈਸੇ", "ਮਾਤਰ", "ਰਿਣ"))


def words_indian_pa(n: int) -> str:
    """1,23,45,678 is "ਇੱਕ ਕਰੋੜ ਤੇਈ ਲੱਖ ਪੰਤਾਲੀ ਹਜ਼ਾਰ ਛੇ ਸੌ ਅਠੱਤਰ"."""
    return PUNJABI.words(n)


def in_words_inr_pa(value: MoneyLike) -> str:
    """"ਰੁਪਏ ਇੱਕ ਹਜ਼ਾਰ ਦੋ ਸੌ ਪੰਜਾਹ ਮਾਤਰ"; paise "... ਅਤੇ ਪੰਜਾਹ ਪੈਸੇ ਮਾਤਰ"; negative "ਰਿਣ ..."."""
    return PUNJABI.inr(value)
