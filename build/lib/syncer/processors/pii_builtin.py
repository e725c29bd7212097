"""The `pii` processor's built-in categories: what each is called, the tag it gets, the column
types it applies to, its name keywords in seven languages, its description phrases, and the
check of sampled values. Users change them with `default_tags`, `disable` and `rules`.
"""

from __future__ import annotations

from typing import Literal

from syncer.models import DataType

SENSITIVE = "PII.Sensitive"
NON_SENSITIVE = "PII.NonSensitive"

# Built-in checks of sampled values.
ValueCheck = Literal["email", "card_number", "ip_address", "iban", "phone"]

_TEXT = [DataType.STRING, DataType.VARCHAR, DataType.CHAR, DataType.TEXT, DataType.MEDIUMTEXT]
_TEXT += [DataType.CLOB, DataType.UNKNOWN]
_NUMBER = [DataType.NUMBER, DataType.INT, DataType.BIGINT, DataType.LONG, DataType.LARGEINT]
_NUMBER += [DataType.UINT, DataType.DECIMAL, DataType.NUMERIC]
_DATE = [DataType.DATE, DataType.DATETIME, DataType.TIMESTAMP, DataType.TIMESTAMPZ]
_BINARY = [DataType.BINARY, DataType.VARBINARY, DataType.BYTEA, DataType.BLOB]


# Built-in categories: name, tag, column types, name keywords, description phrases (`|`
# between them), value check. Sensitive ones first: `email_address` is an e-mail, not a postal
# address, and `ip_address` an IP address.
BUILTIN: tuple[tuple[str, str, list[DataType], str, str, ValueCheck | None], ...] = (
    (
        "email",
        SENSITIVE,
        _TEXT,
        "email emailadres adresse_mail courriel correo correo_electronico correio_eletronico"
        " posta_elettronica",
        "email address|e-mail address",
        "email",
    ),
    (
        "person_name",
        SENSITIVE,
        _TEXT,
        "first_name given_name middle_name last_name surname family_name full_name maiden_name"
        " nickname customer_name client_name person_name contact_name user_name vorname"
        " nachname familienname geburtsname rufname prenom nom_de_famille nom_famille"
        " nom_complet primer_nombre nombre_completo nombre_de_pila apellido apellidos"
        " primeiro_nome sobrenome apelido nome_completo cognome voornaam achternaam"
        " tussenvoegsel roepnaam volledige_naam",
        "first name|last name|full name|given name|family name",
        None,
    ),
    (
        "national_id",
        SENSITIVE,
        _TEXT + _NUMBER,
        "ssn social_security national_id national_insurance_number passport tax_id tax_number"
        " driver_license drivers_license driving_licence driving_license id_card identity_card"
        " steuer_id steuernummer steueridentifikationsnummer sozialversicherungsnummer"
        " personalausweis ausweisnummer reisepass nir securite_sociale numero_fiscal passeport"
        " nif nie dni nss seguridad_social cpf codice_fiscale bsn burgerservicenummer paspoort"
        " sofinummer",
        "social security number|passport number|national id|tax id|tax identification number",
        None,
    ),
    (
        "card_number",
        SENSITIVE,
        _TEXT + _NUMBER,
        "card_number card_no credit_card cc_number cvv cvc kreditkarte kartennummer"
        " carte_bancaire numero_carte numero_de_carte carte_de_credit tarjeta numero_tarjeta"
        " cartao numero_cartao carta_di_credito numero_carta kaartnummer",
        "card number|credit card",
        "card_number",
    ),
    (
        "bank_account",
        SENSITIVE,
        _TEXT,
        "iban bank_account bankkonto kontonummer bankverbindung rekeningnummer compte_bancaire"
        " cuenta_bancaria conta_bancaria conto_corrente conto_bancario",
        "iban|bank account",
        "iban",
    ),
    (
        "ip_address",
        SENSITIVE,
        [*_TEXT, DataType.INET, DataType.CIDR, DataType.MACADDR],
        "ip ipv4 ipv6 ip_addr mac_address",
        "ip address",
        "ip_address",
    ),
    # PostgreSQL's network types hold addresses whatever the column is called.
    ("ip_address_type", SENSITIVE, [DataType.INET, DataType.CIDR, DataType.MACADDR], "", "", None),
    (
        "password",
        SENSITIVE,
        _TEXT + _BINARY,
        "password passwd pwd passwort kennwort mot_de_passe contrasena senha wachtwoord",
        "password",
        None,
    ),
    (
        "phone",
        NON_SENSITIVE,
        _TEXT + _NUMBER,
        "phone telephone tel fax mobile cellphone cell_phone telefon telefonnummer handy"
        " mobilnummer telefono movil celular telemovel cellulare telefoon telefoonnummer mobiel",
        "phone number|telephone number|mobile number",
        "phone",
    ),
    (
        "address",
        NON_SENSITIVE,
        [*_TEXT, DataType.JSON],
        "address street postal_code postcode zip zip_code adresse strasse hausnummer"
        " postleitzahl plz rue code_postal direccion calle codigo_postal endereco rua cep"
        " indirizzo adres straat huisnummer",
        "street address|postal address|home address",
        None,
    ),
    (
        "birth_date",
        NON_SENSITIVE,
        _TEXT + _DATE,
        "dob date_of_birth birth_date birthday geburtsdatum geburtstag date_naissance"
        " date_de_naissance fecha_nacimiento fecha_de_nacimiento data_nascimento"
        " data_de_nascimento data_nascita data_di_nascita geboortedatum",
        "date of birth|birth date|birthday",
        None,
    ),
    ("gender", NON_SENSITIVE, _TEXT, "gender sex geschlecht sexe sexo geslacht", "gender", None),
)

# Names that a built-in rule's keywords are part of without being that category.
NOT = {"address": "ip ipv4 ipv6 mac email e_mail url web"}
