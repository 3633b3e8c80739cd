"""Jurisdiction codes: which exist, what contains what, and where an E.164 caller number is.

A code is ``*`` (everywhere), ``EU``, an ISO 3166-1 alpha-2 country (``DE``), or a country subdivision
(``US-IL``, ``CA-ON``; US territories as ``US-PR`` and the like, as ISO 3166-2:US lists them). A call in
``US-IL`` is also in ``US`` and in ``*``; a call in ``DE`` is also in ``EU``. A rule written for any code in
that chain applies to the call.
"""

from __future__ import annotations

from typing import Final

import phonenumbers

from voiceguard.policy.nanp import AREA_CODES


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


GLOBAL: Final = "*"
EU: Final = "EU"

EU_MEMBERS: Final = _codes("AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
"""The 27 member states; an EU regulation applies in each of them."""

COUNTRIES: Final = _codes(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
    BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET
    FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM
    IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD
    ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS
    XK YE YT ZA ZM ZW"""
)
"""ISO 3166-1 alpha-2, plus XK (Kosovo), which phonenumbers also uses."""

US_STATES: Final = _codes(
    """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC
    ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR UM VI"""
)
"""The states, DC and the territories, as ISO 3166-2:US subdivision codes."""

US_TERRITORIES: Final = frozenset({"AS", "GU", "MP", "PR", "UM", "VI"})
"""Territories with their own ISO country code that are also subdivisions of the US (federal law applies)."""

CA_PROVINCES: Final = _codes("AB BC MB NB NL NS NT NU ON PE QC SK YT")

SUBDIVISIONS: Final = {"US": US_STATES, "CA": CA_PROVINCES}


def is_known(code: str) -> bool:
    """Whether ``code`` names a jurisdiction voiceguard knows (a typo in a pack is caught by lint)."""
    if code in (GLOBAL, EU) or code in COUNTRIES:
        return True
    country, sep, region = code.partition("-")
    return bool(sep) and region in SUBDIVISIONS.get(country, frozenset())


def normalise(code: str) -> str:
    """The canonical form: upper case, and US territories as ``US-PR`` rather than ``PR``."""
    code = code.strip().upper()
    if code in US_TERRITORIES:
        return f"US-{code}"
    return code


def chain(code: str) -> tuple[str, ...]:
    """``code`` and every jurisdiction containing it, most specific first, always ending in ``*``."""
    code = normalise(code)
    if code == GLOBAL:
        return (GLOBAL,)
    out = [code]
    country, sep, _ = code.partition("-")
    if sep:
        out.append(country)
    if country in EU_MEMBERS:
        out.append(EU)
    out.append(GLOBAL)
    return tuple(dict.fromkeys(out))


def from_e164(number: str) -> str | None:
    """The jurisdiction of a caller's E.164 number: the country, and for +1 numbers the state or province.

    Returns ``None`` for anything that is not a plausible E.164 number, so a subject that is an account id
    rather than a phone number simply does not resolve.
    """
    text = number.strip()
    if not text.startswith("+") or len(text) > 20:
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code or 0
    )
    if region in (None, "ZZ", "001"):
        return None
    if region in US_TERRITORIES:
        return f"US-{region}"
    if parsed.country_code == 1 and region in ("US", "CA"):
        national = str(parsed.national_number)
        return AREA_CODES.get(national[:3], region)
    return region
