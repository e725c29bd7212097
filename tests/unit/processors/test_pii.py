"""The pii processor tags personal-data columns from names, types, descriptions and, when asked,
a sample of their values that never leaves the processor."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from syncer.errors import ConfigError
from syncer.models import (
    Column,
    Database,
    EntityReference,
    LineageEdge,
    Table,
    TableType,
    TagLabel,
)
from syncer.processors.pii import PiiConfig, PiiProcessor, tokens
from syncer.processors.pii_values import is_card_number, is_iban, is_ip_address, is_phone

SCHEMA = "shop.shop.main"


def table(*columns: Column, name: str = "people", schema: str = SCHEMA) -> Table:
    return Table(name=name, database_schema=schema, columns=list(columns))


def col(name: str, data_type: str = "VARCHAR", **more: Any) -> Column:
    return Column(name=name, data_type=data_type, **more)


def run(entity: Any, **config: Any) -> Any:
    return PiiProcessor(PiiConfig.model_validate(config)).process(entity)


def tags_of(name: str, data_type: str = "VARCHAR", **config: Any) -> list[str]:
    result = run(table(col(name, data_type)), **config)
    return [t.tag_fqn for t in result.columns[0].tags]


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["email", "e_mail", "eMail", "E-Mail", "customerEmail", "EMAIL_ADDRESS", "courriel", "correo"],
)
def test_a_column_named_e_mail_is_tagged_sensitive(name: str) -> None:
    assert tags_of(name) == ["PII.Sensitive"]


@pytest.mark.parametrize(
    "name",
    [
        "first_name",
        "firstName",
        "lastname",
        "vorname",
        "Nachname",
        "prenom",
        "prénom",
        "apellido",
        "nombre_completo",
        "cognome",
        "voornaam",
    ],
)
def test_person_names_are_tagged_sensitive_like_openmetadata_does(name: str) -> None:
    assert tags_of(name) == ["PII.Sensitive"]


@pytest.mark.parametrize(
    ("name", "data_type"),
    [
        ("ssn", "VARCHAR"),
        ("national_id", "VARCHAR"),
        ("steuer_id", "VARCHAR"),
        ("SteuerId", "BIGINT"),
        ("nif", "VARCHAR"),
        ("cpf", "VARCHAR"),
        ("codice_fiscale", "VARCHAR"),
        ("bsn", "INT"),
        ("iban", "VARCHAR"),
        ("card_number", "BIGINT"),
        ("creditCardNumber", "VARCHAR"),
        ("ip_address", "VARCHAR"),
        ("client_ip", "VARCHAR"),
        ("IPAddress", "VARCHAR"),
        ("remote_host", "INET"),
        ("password_hash", "VARBINARY"),
    ],
)
def test_ids_card_and_bank_numbers_ips_and_passwords_are_tagged_sensitive(
    name: str, data_type: str
) -> None:
    assert tags_of(name, data_type) == ["PII.Sensitive"]


@pytest.mark.parametrize(
    ("name", "data_type"),
    [
        ("phone", "VARCHAR"),
        ("Telefon", "VARCHAR"),
        ("téléphone", "VARCHAR"),
        ("telefono", "VARCHAR"),
        ("telefoonnummer", "VARCHAR"),
        ("mobile_phone", "BIGINT"),
        ("street", "VARCHAR"),
        ("billing_address", "TEXT"),
        ("adresse", "VARCHAR"),
        ("direccion", "VARCHAR"),
        ("calle", "VARCHAR"),
        ("zip_code", "VARCHAR"),
        ("dob", "DATE"),
        ("birth_date", "DATE"),
        ("geburtsdatum", "DATE"),
        ("date_naissance", "DATE"),
        ("dateOfBirth", "TIMESTAMP"),
    ],
)
def test_phones_addresses_and_birth_dates_are_tagged_non_sensitive_like_openmetadata_does(
    name: str, data_type: str
) -> None:
    assert tags_of(name, data_type) == ["PII.NonSensitive"]


@pytest.mark.parametrize(
    "name",
    ["description", "shipping_id", "tip_amount", "recipient_count", "zipper", "mailbox_size"],
)
def test_names_that_merely_contain_a_keyword_are_not_tagged(name: str) -> None:
    assert tags_of(name) == []


def test_an_email_address_column_is_an_email_not_a_postal_address() -> None:
    assert tags_of("email_address") == ["PII.Sensitive"]


@pytest.mark.parametrize("name", ["name", "nombre", "nom", "naam"])
def test_a_bare_name_column_is_left_alone_as_it_is_often_a_products_name(name: str) -> None:
    assert tags_of(name) == []


def test_a_boolean_flag_named_after_personal_data_is_not_tagged() -> None:
    assert tags_of("email_verified", "BOOLEAN") == []
    assert tags_of("has_phone", "BOOLEAN") == []


def test_a_column_described_as_a_date_of_birth_is_tagged_whatever_its_name() -> None:
    result = run(table(col("d1", "DATE", description="The customer's date of birth.")))
    assert [t.tag_fqn for t in result.columns[0].tags] == ["PII.NonSensitive"]


def test_names_are_split_at_separators_camel_case_humps_and_digits() -> None:
    assert tokens("customerEmail") == ("customer", "email")
    assert tokens("e-MailAdresse2") == ("e", "mail", "adresse", "2")
    assert tokens("IPAddress") == ("ip", "address")
    assert tokens("Straße Nr") == ("strasse", "nr")


# --- labels --------------------------------------------------------------------------------------


def test_the_label_is_an_automated_classification_suggestion_added_to_existing_tags() -> None:
    kept = TagLabel(tag_fqn="Tier.Tier1", label_type="Manual")
    result = run(table(col("email", tags=[kept])))
    assert result.columns[0].tags == [
        TagLabel(
            tag_fqn="PII.Sensitive",
            source="Classification",
            label_type="Automated",
            state="Suggested",
        ),
        kept,
    ]


def test_the_label_state_can_be_confirmed() -> None:
    result = run(table(col("email")), state="Confirmed")
    assert result.columns[0].tags[0].state == "Confirmed"


def test_a_column_someone_already_tagged_pii_keeps_that_tag_only() -> None:
    theirs = TagLabel(tag_fqn="PII.NonSensitive", label_type="Manual")
    result = run(table(col("email", tags=[theirs])))
    assert result.columns[0].tags == [theirs]


def test_nested_fields_of_a_struct_column_are_classified() -> None:
    contact = col("contact", "STRUCT", children=[col("email"), col("tier", "INT")])
    result = run(table(contact))
    children = result.columns[0].children
    assert [t.tag_fqn for t in children[0].tags] == ["PII.Sensitive"]
    assert children[1].tags == []


def test_the_input_entity_is_not_changed() -> None:
    entity = table(col("email"))
    run(entity)
    assert entity.columns[0].tags == []


def test_a_table_with_nothing_to_tag_comes_back_as_it_was() -> None:
    entity = table(col("order_id", "INT"), col("status"))
    assert run(entity) is entity


def test_entities_other_than_tables_pass_through() -> None:
    database = Database(name="shop", service="shop")
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name=f"{SCHEMA}.a"),
        to_entity=EntityReference(type="table", fully_qualified_name=f"{SCHEMA}.b"),
    )
    assert run(database) is database
    assert run(edge) is edge


def test_only_tables_whose_fqn_matches_are_classified() -> None:
    crm = table(col("email"), schema="shop.shop.crm")
    assert run(table(col("email")), fqn=r"\.crm\.").columns[0].tags == []
    assert run(crm, fqn=r"\.crm\.").columns[0].tags != []


# --- configuring rules ---------------------------------------------------------------------------


def test_a_users_rule_comes_before_the_built_in_ones() -> None:
    rules = [{"name": "loyalty", "names": ["loyalty_id", "email"], "tag": "Customer.Loyalty"}]
    assert tags_of("loyaltyId", "INT", rules=rules) == ["Customer.Loyalty"]
    assert tags_of("email", rules=rules) == ["Customer.Loyalty"]


def test_a_rule_can_match_names_by_regex_and_restrict_types() -> None:
    rules = [{"name": "badge", "name_pattern": r"^badge_\d+$", "data_types": ["VARCHAR"]}]
    assert tags_of("badge_12", rules=rules) == ["PII.Sensitive"]
    assert tags_of("badge_12", "INT", rules=rules) == []


def test_a_built_in_rule_can_be_disabled() -> None:
    assert tags_of("ip_address", disable=["ip_address"]) == []  # nor is it a postal address
    assert tags_of("email", disable=["email"]) == []


def test_a_rule_can_name_words_that_veto_it() -> None:
    rules = [{"name": "codes", "names": ["code"], "not_names": ["zip"]}]
    assert tags_of("access_code", rules=rules) == ["PII.Sensitive"]
    assert tags_of("zip_code", rules=rules) == ["PII.NonSensitive"]  # the built-in address rule


def test_a_built_in_rules_tag_can_be_changed() -> None:
    assert tags_of("phone", default_tags={"phone": "PII.Sensitive"}) == ["PII.Sensitive"]


def test_without_default_rules_only_the_users_rules_apply() -> None:
    rules = [{"name": "mail", "names": ["courriel"]}]
    assert tags_of("email", default_rules=False, rules=rules) == []
    assert tags_of("courriel", default_rules=False, rules=rules) == ["PII.Sensitive"]


def test_an_invalid_name_pattern_is_refused_and_named() -> None:
    with pytest.raises(ValidationError, match=r"'\(oops' is not a valid regex"):
        PiiConfig.model_validate({"rules": [{"name": "x", "name_pattern": "(oops"}]})


def test_disabling_an_unknown_built_in_rule_lists_the_built_in_ones() -> None:
    with pytest.raises(ValidationError, match="no built-in rule 'e_mail'; built-in are email,"):
        PiiConfig.model_validate({"disable": ["e_mail"]})


def test_a_tag_must_name_its_classification() -> None:
    with pytest.raises(ValidationError, match=r"must be Classification\.Tag"):
        PiiConfig.model_validate({"rules": [{"name": "x", "names": ["a"], "tag": "Sensitive"}]})


def test_a_rule_that_matches_nothing_is_refused() -> None:
    with pytest.raises(ValidationError, match="rule 'x' matches nothing"):
        PiiConfig.model_validate({"rules": [{"name": "x"}]})


# --- value checks --------------------------------------------------------------------------------


def test_card_numbers_must_pass_the_luhn_check() -> None:
    assert is_card_number("4111 1111 1111 1111")
    assert is_card_number("5500-0055-5555-5559")
    assert not is_card_number("4111 1111 1111 1112")
    assert not is_card_number("1234")


def test_ibans_must_pass_the_mod_97_check() -> None:
    assert is_iban("GB82 WEST 1234 5698 7654 32")
    assert is_iban("DE89370400440532013000")
    assert not is_iban("DE89370400440532013001")


def test_phone_numbers_need_a_phone_numbers_shape_not_just_digits() -> None:
    assert is_phone("+49 30 1234567")
    assert is_phone("(555) 123-4567")
    assert is_phone("030 1234567")
    assert not is_phone("12345678")
    assert not is_phone("2024-01-15")


def test_ip_addresses_of_both_versions_are_recognised() -> None:
    assert is_ip_address("192.168.0.1")
    assert is_ip_address("2001:db8::1")
    assert not is_ip_address("192.168.0.256")


# --- sampling ------------------------------------------------------------------------------------

EMAILS = ["ann@example.com", "bob@example.org", "cy@example.net", "dee@example.com", None]
NOTES = ["called back", "prefers mornings", "ann asked for a refund", "vip", "n/a"]
CARDS = [4111111111111111, 5500005555555559, 340000000000009, 4012888888881881, None]
SECRET_VALUES = [*[e for e in EMAILS if e], *NOTES, *(str(c) for c in CARDS if c)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, contact TEXT, notes TEXT, card BIGINT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [(i, EMAILS[i], NOTES[i], CARDS[i]) for i in range(5)],
        )
    conn.close()
    return path


def people(*extra: Column) -> Table:
    return table(
        col("id", "INT"), col("contact"), col("notes", "TEXT"), col("card", "BIGINT"), *extra
    )


def sampled(db: Path, entity: Table, **sample: Any) -> tuple[PiiProcessor, Any]:
    config = PiiConfig.model_validate({"sample": {"url": f"sqlite:///{db}", **sample}})
    processor = PiiProcessor(config)
    return processor, processor.process(entity)


def test_a_sampled_column_of_email_addresses_is_tagged_and_others_are_not(db: Path) -> None:
    _, result = sampled(db, people())
    tags = {c.name: [t.tag_fqn for t in c.tags] for c in result.columns}
    assert tags == {"id": [], "contact": ["PII.Sensitive"], "notes": [], "card": ["PII.Sensitive"]}


def test_no_sampled_value_reaches_the_entity_the_logs_or_the_processor(
    db: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_logs() as logs:
        processor, result = sampled(db, people())
        processor.process(table(col("contact"), name="missing"))  # cannot be sampled: logs
    assert logs  # the failed sample was logged ...
    kept = result.model_dump_json() + repr(logs) + caplog.text + repr(vars(processor))
    kept += "".join(capsys.readouterr())
    for value in SECRET_VALUES:  # ... but no value was, anywhere
        assert value not in kept


def test_too_few_matching_values_leave_a_column_untagged(db: Path) -> None:
    entity = table(col("contact"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE people SET contact = 'unknown' WHERE id < 2")
    conn.close()
    assert sampled(db, entity)[1].columns[0].tags == []  # 2 of 4 non-null values
    assert sampled(db, entity, min_share=0.5)[1].columns[0].tags != []


def test_only_columns_that_names_could_not_classify_are_read(db: Path) -> None:
    # `email` is not a column of the table: reading it would fail the whole sample.
    _, result = sampled(db, people(col("email")))
    tags = {c.name: [t.tag_fqn for t in c.tags] for c in result.columns}
    assert tags["email"] == ["PII.Sensitive"]
    assert tags["contact"] == ["PII.Sensitive"]


def test_a_table_that_cannot_be_sampled_keeps_its_name_based_tags_and_logs_a_warning(
    db: Path,
) -> None:
    with capture_logs() as logs:
        _, result = sampled(db, table(col("email"), col("contact"), name="gone"))
    assert [c.tags != [] for c in result.columns] == [True, False]
    assert logs == [
        {
            "event": "table not sampled; its columns are classified by their names only",
            "log_level": "warning",
            "table": f"{SCHEMA}.gone",
            "error": "OperationalError",
            "url": f"sqlite:///{db}",
        }
    ]


def test_a_sample_database_file_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sample\.url: sqlite file .*/x does not exist"):
        PiiProcessor(PiiConfig.model_validate({"sample": {"url": f"sqlite:///{tmp_path}/x"}}))


def test_the_sample_file_is_opened_read_only(db: Path) -> None:
    before = db.read_bytes()
    sampled(db, people())
    assert db.read_bytes() == before


def test_an_unparsable_sample_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValidationError) as raised:
        PiiConfig.model_validate({"sample": {"url": "::s3cret::"}})
    [error] = raised.value.errors(include_input=False)
    assert error["msg"].startswith("Value error, not a SQLAlchemy URL")
    assert "s3cret" not in error["msg"]


def test_views_are_not_sampled_unless_asked_as_reading_one_runs_its_query(db: Path) -> None:
    view = people().model_copy(update={"table_type": TableType.VIEW})
    assert sampled(db, view)[1] is view
    assert sampled(db, view, views=True)[1].columns[1].tags != []


def test_a_sample_url_whose_driver_is_missing_is_a_config_error_without_the_password() -> None:
    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("the MySQLdb driver is installed here")
    url = "mysql+mysqldb://reader:s3cret@db/crm"
    with pytest.raises(ConfigError, match="needs the module MySQLdb") as raised:
        PiiProcessor(PiiConfig.model_validate({"sample": {"url": url}}))
    assert "s3cret" not in str(raised.value)
