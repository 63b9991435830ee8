"""The personal data detectors on single texts: what counts, what does not, and where."""

from __future__ import annotations

import pytest

from desktop_app.data.pii import PII_TYPES, PiiFinding, canonical_value, scan_text
from desktop_app.data.pii.checks import (
    card_number_valid,
    iban_valid,
    luhn_valid,
    nhs_number_valid,
    nino_valid,
    ssn_valid,
)
from desktop_app.data.pii.findings import resolve_overlaps


def found(text: str) -> list[tuple[str, str]]:
    return [(finding.type, finding.value) for finding in scan_text(text)]


def test_check_digits() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_number_valid("378282246310005")  # Amex, 15 digits
    assert not card_number_valid("1220297299752885")  # passes Luhn, no issuer starts with 1
    assert not card_number_valid("37828224631000")  # Amex prefix at the wrong length
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB83WEST12345698765432")
    assert not iban_valid("GB82WEST1234569876543")  # one character short for GB
    assert ssn_valid("536221234")
    for never_issued in ("000221234", "666221234", "912345678", "536001234", "536220000"):
        assert not ssn_valid(never_issued), never_issued
    assert nino_valid("AB123456C")
    for unused in ("QQ123456C", "GB123456A", "AB123456E", "DA123456A", "AO123456A"):
        assert not nino_valid(unused), unused
    assert nhs_number_valid("9434765919") and not nhs_number_valid("9434765918")
    assert not nhs_number_valid("9990000018")  # the test range


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to j.smith@northwind.co.uk.", [("EMAIL", "j.smith@northwind.co.uk")]),
        ("<ANNA.K@BANK.PL>", [("EMAIL", "ANNA.K@BANK.PL")]),
        ("mail sean.o'brien@eircom.net", [("EMAIL", "sean.o'brien@eircom.net")]),
        ("tag claims+motor@insurer.com", [("EMAIL", "claims+motor@insurer.com")]),
        ("icon@2x.png and noreply@example.com", []),
        ("Call +44 20 7946 0958 today", [("PHONE", "+44 20 7946 0958")]),
        ("Tel: +44 (0)20 7946 0321", [("PHONE", "+44 (0)20 7946 0321")]),
        ("ring (212) 555-0147", [("PHONE", "(212) 555-0147")]),
        ("ring 020 7946 0958", [("PHONE", "020 7946 0958")]),
        ("Berlin +49 30 901820", [("PHONE", "+49 30 901820")]),
        ("Paris 01 42 68 53 00", [("PHONE", "01 42 68 53 00")]),
        ("Tel 030-123609", [("PHONE", "030-123609")]),
        ("call me on 02079460958", [("PHONE", "02079460958")]),
        ("order 02079460958", []),  # unformatted digits need a phone word
        ("stock code 0401-2230-11", []),  # hyphens where no area code ends
        ("extension 4471, ext. 2203", []),
        ("Card 4111 1111 1111 1111 exp 12/26", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("Amex 3782 822463 10005", [("CREDIT_CARD", "3782 822463 10005")]),
        ("card 4111-1111-1111-1111.", [("CREDIT_CARD", "4111-1111-1111-1111")]),
        ("Order 4111 1111 1111 1112", []),  # fails Luhn
        ("Loyalty 1220 2972 9975 2885", []),  # passes Luhn, no issuer
        ("IBAN GB82 WEST 1234 5698 7654 32 ok", [("IBAN", "GB82 WEST 1234 5698 7654 32")]),
        ("to DE89370400440532013000.", [("IBAN", "DE89370400440532013000")]),
        ("ref GB83 WEST 1234 5698 7654 32", []),  # fails mod-97
        ("SSN 536-22-1234", [("SSN", "536-22-1234")]),
        ("SSN: 536221234", [("SSN", "536221234")]),
        ("claim 536221234", []),  # nine digits need a keyword
        ("ITIN 912-34-5678 and 666-12-3456", []),
        (
            "host 10.14.22.87 and fe80::1ff:fe23:4567:890a",
            [("IP_ADDRESS", "10.14.22.87"), ("IP_ADDRESS", "fe80::1ff:fe23:4567:890a")],
        ),
        ("mapped ::ffff:10.1.2.3 seen", [("IP_ADDRESS", "::ffff:10.1.2.3")]),
        ("version 10.2.3.4, v1.2.3.4, build 10.0.19045.3693, Java 17.0.10.7", []),
        ("mask 255.255.255.0, 127.0.0.1, ::1, 0.0.0.0, 192.0.2.10, 10.0.0.0/8", []),
        ("NI number AB 12 34 56 C", [("UK_NINO", "AB 12 34 56 C")]),
        ("example QQ 12 34 56 C", []),
        ("NHS number 943 476 5919", [("NHS_NUMBER", "943 476 5919")]),
        ("NHS number 943 476 5918", []),  # bad check digit, and spaced 3-3-4 needs a phone word
        ("Amounts 1,234.56 and dates 2024-03-15, 15/03/2024, 15.03.2024", []),
    ],
)
def test_scan_text(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_offsets_point_at_the_value() -> None:
    text = "Mrs Ng (ng@firm.co.uk, +33 6 12 34 52 60) paid with 5555 5555 5555 4444 – merci"
    findings = scan_text(text)
    assert [finding.type for finding in findings] == ["EMAIL", "PHONE", "CREDIT_CARD"]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.value


def test_offsets_count_characters_not_bytes() -> None:
    text = "Ünïcødé ☎ contact: zoë@café.fr"
    (finding,) = scan_text(text)
    assert text[finding.start : finding.end] == "zoë@café.fr"


def test_digit_groups_inside_an_iban_are_not_phone_numbers() -> None:
    # "0044 0532 0130 00" alone would read as an international number (00 44 ...).
    assert found("IBAN DE89 3704 0044 0532 0130 00.") == [("IBAN", "DE89 3704 0044 0532 0130 00")]
    assert found("ref DE88 3704 0044 0532 0130 00.") == []  # fails mod-97: nothing at all


def test_longest_overlapping_candidate_wins_then_the_most_specific() -> None:
    phone = PiiFinding("PHONE", 0, 10, "x" * 10)
    card = PiiFinding("CREDIT_CARD", 0, 19, "x" * 19)
    nhs = PiiFinding("NHS_NUMBER", 0, 10, "x" * 10)
    later = PiiFinding("EMAIL", 20, 30, "x" * 10)
    assert resolve_overlaps([phone, later, card]) == [card, later]
    assert resolve_overlaps([phone, nhs]) == [nhs]


def test_only_the_types_asked_for() -> None:
    text = "a@b.co.uk or +44 20 7946 0958"
    assert [finding.type for finding in scan_text(text, types={"PHONE"})] == ["PHONE"]
    with pytest.raises(ValueError, match="unknown personal data type"):
        scan_text(text, types={"NAME"})


def test_canonical_values_join_spellings_of_one_value() -> None:
    assert canonical_value("PHONE", "+44 20 7946 0958") == canonical_value("PHONE", "020 7946 0958")
    assert canonical_value("IBAN", "gb82 west 1234 5698 7654 32") == "GB82WEST12345698765432"
    assert canonical_value("EMAIL", "J.Smith@Firm.COM") == "j.smith@firm.com"
    assert canonical_value("IP_ADDRESS", "2001:0DB8::0001") == "2001:db8::1"


def test_every_type_has_a_detector() -> None:
    from desktop_app.data.pii.scanner import DETECTORS

    assert set(DETECTORS) == set(PII_TYPES)
