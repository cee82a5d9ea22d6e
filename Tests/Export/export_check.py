#!/usr/bin/env python3
"""Checks the server's export (docs/export.md) outside Swift.

Called by Tests/SyncServerTests/Export/ExportTests.swift with the three formats of
one export page saved to files:

  export_check.py --json page.json --csv page.csv --fhir page.fhir.json [--schema fhir.schema.json]

- FHIR: every resource of the page (the outer Bundle, each referral's Bundle
  and every resource in it) is validated against HL7's R4 (4.0.1) JSON Schema
  (`fhir.schema.json`, draft 06, with jsonschema's Draft6Validator; the file
  must be HL7's, by its SHA-256) and parsed with the R4 models of
  fhir.resources 6.5 (generated from the R4 StructureDefinitions: required
  elements, cardinality, types); the codes the export sets are checked
  against R4's value sets (Bundle.type, ServiceRequest.status, intent and
  priority, Flag.status, Address.use). Then, against the JSON export of the
  same page: each referral's Bundle is identified by the referral's own
  reference (urn:field-sync:reference, F-XXXX-XXXX), never by its receipt;
  every fullUrl is a urn:uuid with a valid UUID, one per resource, the
  derived ones (the referral's Bundle, its Flag) the documented UUID v5; each
  child's Patient carries the household address; consent and the alleged
  perpetrator are labelled notes of the ServiceRequest.
- CSV: read back with Python's csv module, every field of every referral in
  the JSON export is in its row under its documented column, and nothing
  else is.
Prints one line per check; exits 1 with the first failure.
"""
import argparse
import csv
import hashlib
import json
import os
import re
import sys
import uuid

import jsonschema

from fhir.resources.bundle import Bundle


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


# HL7's R4 (4.0.1) JSON Schema, as ../shared/fhir/README.md gives it (and the copy beside this script).
SCHEMA_SHA256 = "5ed97140307c383eb1f61558dbdd605ec49bed981e53e3ec17fd3920460771bd"

UUID_URL = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A referral's own reference: F- and two groups of four Crockford base-32 characters (no I, L, O or U).
REFERENCE = re.compile(r"^F-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")

# The ServiceRequest's labelled notes (docs/export.md, "Labelled notes"), in
# their order: each note's text is the label, ": ", then the value.
NOTE_LABELS = [
    ("concern.allegations", "Allegations"),
    ("concern.perpetrator", "Alleged perpetrator"),
    ("concern.perpetrator_whereabouts", "Alleged perpetrator's whereabouts"),
    ("concern.significant_events", "Significant events"),
    ("consent.status", "Consent"),
    ("consent.given_by", "Consent given or refused by"),
    ("consent.reason", "Reason for going ahead without consent"),
]
OUTCOME_LABEL = "Outcome"

FORM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "SyncCore", "Form", "Resources", "referral-form.json")


def choice_labels():
    """The form's choice labels by stored path and key (`consent.status` → given → Given)."""
    form = json.load(open(FORM, encoding="utf-8"))
    labels = {}
    for section in form["sections"]:
        for field in section["fields"]:
            if field.get("options"):
                labels[f"{section['key']}.{field['key']}"] = {o["key"]: o["label"] for o in field["options"]}
    return labels


def fhir_string(value):
    """A value as the FHIR export writes it: R4's string pattern (^[ \\r\\n\\t\\S]+$) allows no whitespace
    but space, tab, CR and LF, so any other (a no-break space, a line separator) is a space."""
    return re.sub(r"[^\S \t\r\n]", " ", value)


def schema_validators(path):
    """Draft 6 validators for the whole schema (any resource) and for one resource type."""
    data = open(path, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SCHEMA_SHA256:
        fail(f"{path} is not HL7's R4 fhir.schema.json as ../shared/fhir/README.md gives it: SHA-256 {digest}, expected {SCHEMA_SHA256}")
    schema = json.loads(data)
    jsonschema.Draft6Validator.check_schema({k: v for k, v in schema.items() if k != "definitions"})
    typed = {}

    def of_type(resource_type):
        if resource_type not in typed:
            if resource_type not in schema["definitions"]:
                fail(f"{resource_type!r} is not an R4 resource type")
            typed[resource_type] = jsonschema.Draft6Validator(
                {"$schema": schema["$schema"], "id": schema["id"], "definitions": schema["definitions"], "$ref": f"#/definitions/{resource_type}"})
        return typed[resource_type]

    return jsonschema.Draft6Validator(schema), of_type


def validate(validator, resource, where):
    errors = sorted(validator.iter_errors(resource), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors[:10]]
        fail(f"{where} is not valid against the R4 JSON Schema ({len(errors)} errors):\n  " + "\n  ".join(lines))


def check_schema(outer, schema_path):
    """Every resource of the page against HL7's R4 JSON Schema: each resource of
    each referral's Bundle against its own type's definition first, so that a
    failure names the resource and the element; then each referral's Bundle,
    and the outer Bundle also against the whole schema (its discriminated oneOf
    over every resource type)."""
    whole, of_type = schema_validators(schema_path)
    resources = 0
    for number, entry in enumerate(outer.get("entry", []), 1):
        bundle = entry["resource"]
        for e in bundle.get("entry", []):
            resource = e["resource"]
            validate(of_type(resource.get("resourceType")), resource, f"referral Bundle {number}'s {resource.get('resourceType')} at {e.get('fullUrl')}")
            resources += 1
        validate(of_type(bundle.get("resourceType")), bundle, f"referral Bundle {number}")
        resources += 1
    validate(of_type("Bundle"), outer, "the outer Bundle")
    validate(whole, outer, "the outer Bundle")
    resources += 1
    print(f"ok: FHIR R4 JSON Schema (HL7 4.0.1, Draft6Validator, sha256 {SCHEMA_SHA256[:12]}…): {resources} resources valid")


def check_full_urls(outer):
    """Every fullUrl a urn:uuid with a valid UUID that is its resource's id; none twice in one
    Bundle (R4 bdl-7); one fullUrl never names two kinds of resource anywhere in the page."""
    kinds = {}

    def check(entry, where):
        url = entry.get("fullUrl", "")
        resource = entry["resource"]
        if not UUID_URL.match(url):
            fail(f"{where}: the fullUrl {url!r} of a {resource['resourceType']} is not urn:uuid: with a UUID")
        uuid.UUID(url[len("urn:uuid:"):])
        if resource.get("id") != url[len("urn:uuid:"):]:
            fail(f"{where}: the {resource['resourceType']} at {url} has the id {resource.get('id')!r}")
        if kinds.setdefault(url, resource["resourceType"]) != resource["resourceType"]:
            fail(f"{where}: {url} names both a {kinds[url]} and a {resource['resourceType']}")

    def unique(entries, where):
        urls = [e.get("fullUrl") for e in entries]
        if len(set(urls)) != len(urls):
            fail(f"{where}: a fullUrl is there twice: {urls}")

    unique(outer["entry"], "the outer Bundle")
    count = 0
    for number, entry in enumerate(outer["entry"], 1):
        check(entry, "the outer Bundle")
        unique(entry["resource"]["entry"], f"referral Bundle {number}")
        for e in entry["resource"]["entry"]:
            check(e, f"referral Bundle {number}")
            count += 1
    print(f"ok: FHIR fullUrls, {count + len(outer['entry'])} urn:uuid UUIDs, each its resource's id")


def check_fhir(path, page, schema_path):
    outer = json.load(open(path, encoding="utf-8"))
    if schema_path:
        check_schema(outer, schema_path)
    Bundle.parse_obj(outer)
    if outer.get("type") != "collection":
        fail(f"the outer Bundle's type is {outer.get('type')!r}")
    if "total" in outer:
        fail("the outer Bundle (a collection) has a total (R4 bdl-1: only a searchset or history has one)")
    entries = outer.get("entry", [])
    if len(entries) != len(page["referrals"]):
        fail(f"{len(entries)} referral bundles for {len(page['referrals'])} referrals")
    check_full_urls(outer)
    by_id = {referral["id"]: referral for referral in page["referrals"]}
    labels = choice_labels()
    resources = 0
    for entry in entries:
        bundle = entry["resource"]
        Bundle.parse_obj(bundle)
        if "total" in bundle:
            fail("a referral's Bundle (a collection) has a total (R4 bdl-1: only a searchset or history has one)")
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        if kinds[0] != "ServiceRequest":
            fail(f"a referral's Bundle does not start with its ServiceRequest: {kinds}")
        request = bundle["entry"][0]["resource"]
        referral = by_id.get(request["id"])
        if referral is None:
            fail(f"the ServiceRequest {request['id']} is not a referral of the JSON export")
        fields = referral["fields"]
        referral_id = uuid.UUID(referral["id"])

        # Identified by the referral's own reference, never by its receipt (which one push shares between referrals).
        reference = referral.get("reference")
        if not reference or not REFERENCE.match(reference):
            fail(f"referral {referral['id']} has no reference of its own in the JSON export: {reference!r}")
        if bundle.get("identifier") != {"system": "urn:field-sync:reference", "value": reference}:
            fail(f"referral {reference}'s Bundle is identified by {bundle.get('identifier')}, not by its reference")
        if reference == referral.get("receipt"):
            fail(f"referral {reference}'s reference is its receipt")
        if {"use": "official", "system": "urn:field-sync:reference", "value": reference} not in request.get("identifier", []):
            fail(f"referral {reference}'s ServiceRequest lacks its reference as the official identifier: {request.get('identifier')}")

        # Derived UUIDs (docs/export.md): version 5, named by the role within the referral.
        if entry["fullUrl"] != f"urn:uuid:{uuid.uuid5(referral_id, 'bundle')}":
            fail(f"referral {reference}'s Bundle is at {entry['fullUrl']}, not uuid5(referral id, 'bundle')")
        for e in bundle["entry"]:
            if e["resource"]["resourceType"] == "Flag" and e["fullUrl"] != f"urn:uuid:{uuid.uuid5(referral_id, 'flag')}":
                fail(f"referral {reference}'s Flag is at {e['fullUrl']}, not uuid5(referral id, 'flag')")

        if request["status"] not in ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"):
            fail(f"ServiceRequest.status {request['status']!r} is not an R4 request-status")
        if request["intent"] not in ("proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"):
            fail(f"ServiceRequest.intent {request['intent']!r} is not an R4 request-intent")
        if request.get("priority", "routine") not in ("routine", "urgent", "asap", "stat"):
            fail(f"ServiceRequest.priority {request['priority']!r} is not an R4 request-priority")

        # Labelled notes: consent and the alleged perpetrator (and allegations, events), in order, then the outcome.
        notes = [note["text"] for note in request.get("note", [])]
        for text in notes:
            if text.split(": ", 1)[0] not in [label for _, label in NOTE_LABELS] + [OUTCOME_LABEL]:
                fail(f"referral {reference} has a note without a documented label: {text[:40]!r}…")
        expected = []
        for path, label in NOTE_LABELS:
            if fields.get(path, "").strip():  # a value of only whitespace is left out, as if not given
                value = labels.get(path, {}).get(fields[path], fields[path])
                expected.append(f"{label}: {fhir_string(value)}")
        labelled = [text for text in notes if not text.startswith(OUTCOME_LABEL + ": ")]
        if labelled != expected:
            def label_list(texts):
                return [text.split(": ", 1)[0] for text in texts]
            fail(f"referral {reference}'s labelled notes are {label_list(labelled)}, expected {label_list(expected)}"
                 + (" (a value differs)" if label_list(labelled) == label_list(expected) else ""))

        # One Patient per child, each with the child's (the household's) address.
        children = {path.split(".")[1] for path in fields if path.startswith("children.") and len(path.split(".")) == 3}
        patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
        if len(patients) != len(children):
            fail(f"referral {reference}: {len(patients)} Patients for {len(children)} children")
        address = fields.get("household.address", "").strip() and fields["household.address"]
        for patient in patients:
            if not address:
                if "address" in patient:
                    fail(f"referral {reference}: a Patient has an address the referral does not give")
            elif patient.get("address") != [{"use": "home", "text": fhir_string(address)}]:
                fail(f"referral {reference}: a child's Patient does not carry the household address as its home Address: {patient.get('address')}")

        for e in bundle["entry"]:
            resource = e["resource"]
            if resource["resourceType"] == "Flag" and resource["status"] not in ("active", "inactive", "entered-in-error"):
                fail(f"Flag.status {resource['status']!r}")
            if resource["resourceType"] == "Patient":
                for identifier in resource.get("identifier", []):
                    if identifier["system"] != "https://fhir.nhs.uk/Id/nhs-number" or len(identifier["value"]) != 10:
                        fail(f"a Patient's identifier is not an NHS number: {identifier}")
                for a in resource.get("address", []):
                    if a.get("use") not in ("home", "work", "temp", "old", "billing"):
                        fail(f"Address.use {a.get('use')!r} is not an R4 address-use")
        resources += len(kinds)
    print(f"ok: FHIR R4, {len(entries)} referral bundles, {resources} resources parsed; identifiers, addresses and labelled notes as the JSON export gives them")


def item_order(fields, group):
    """The item ids of a repeating group, in the order they were added (UUID v7: by id)."""
    ids = set()
    for path in fields:
        parts = path.split(".")
        if len(parts) == 3 and parts[0] == group:
            ids.add(parts[1])
    return sorted(ids)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unneutralised(cell):
    """The value a CSV cell holds: the export prefixes with one single quote
    a value starting with a formula character or a quote (OWASP's CSV
    injection advice, docs/export.md); a reader drops it."""
    if cell.startswith(FORMULA_STARTS):
        fail(f"the CSV cell {cell!r} starts with a formula character")
    return cell[1:] if cell.startswith("'") else cell


def check_csv(path, page):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [{key: unneutralised(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    if len(rows) != len(page["referrals"]):
        fail(f"{len(rows)} CSV rows for {len(page['referrals'])} referrals")
    compared = 0
    for referral, row in zip(page["referrals"], rows):
        for key in ("id", "submitted_at", "referrer"):
            if row[key] != referral[key]:
                fail(f"{key}: CSV {row[key]!r}, JSON {referral[key]!r}")
        if row["receipt"] != (referral.get("receipt") or ""):
            fail(f"receipt: CSV {row['receipt']!r}, JSON {referral.get('receipt')!r}")
        if row["revision"] != str(referral["revision"]):
            fail(f"revision: CSV {row['revision']!r}, JSON {referral['revision']}")
        expected = {}
        for path, value in referral["fields"].items():
            parts = path.split(".")
            if len(parts) == 3:
                number = item_order(referral["fields"], parts[0]).index(parts[1]) + 1
                expected[f"{parts[0]}.{number}.{parts[2]}"] = value
            else:
                expected[path] = value
        for column, value in expected.items():
            if column not in row:
                fail(f"the field {column} has no CSV column")
            if row[column] != value:
                fail(f"{column}: CSV {row[column]!r}, JSON {value!r}")
            compared += 1
        for column, value in row.items():
            if column not in expected and column not in ("id", "receipt", "submitted_at", "referrer", "revision") and value != "":
                fail(f"the CSV has {column}={value!r}, which the JSON export does not")
    print(f"ok: CSV, {len(rows)} rows, {compared} fields equal to the JSON export")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--fhir", required=True)
    parser.add_argument("--schema", help="HL7's R4 fhir.schema.json; every FHIR resource is validated against it")
    args = parser.parse_args()
    page = json.load(open(args.json, encoding="utf-8"))
    check_fhir(args.fhir, page, args.schema)
    check_csv(args.csv, page)


if __name__ == "__main__":
    main()
