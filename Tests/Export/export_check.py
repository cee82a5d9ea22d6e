#!/usr/bin/env python3
"""Checks the server's export (docs/export.md) outside Swift.

Called by Tests/SyncServerTests/ExportTests.swift with the three formats of
one export page saved to files:

  export_check.py --json page.json --csv page.csv --fhir page.fhir.json

- FHIR: the outer Bundle and every referral's Bundle are parsed with the R4
  models of fhir.resources 6.5 (generated from the R4 StructureDefinitions:
  required elements, cardinality, types), and the codes the export sets are
  checked against R4's value sets (Bundle.type, ServiceRequest.status,
  intent and priority, Flag.status).
- CSV: read back with Python's csv module, every field of every referral in
  the JSON export is in its row under its documented column, and nothing
  else is.
Prints one line per check; exits 1 with the first failure.
"""
import argparse
import csv
import json
import sys

from fhir.resources.bundle import Bundle


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check_fhir(path, page):
    outer = json.load(open(path, encoding="utf-8"))
    Bundle.parse_obj(outer)
    if outer.get("type") != "collection":
        fail(f"the outer Bundle's type is {outer.get('type')!r}")
    entries = outer.get("entry", [])
    if len(entries) != len(page["referrals"]):
        fail(f"{len(entries)} referral bundles for {len(page['referrals'])} referrals")
    resources = 0
    for entry in entries:
        bundle = entry["resource"]
        Bundle.parse_obj(bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        if kinds[0] != "ServiceRequest":
            fail(f"a referral's Bundle does not start with its ServiceRequest: {kinds}")
        request = bundle["entry"][0]["resource"]
        if request["status"] not in ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"):
            fail(f"ServiceRequest.status {request['status']!r} is not an R4 request-status")
        if request["intent"] not in ("proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"):
            fail(f"ServiceRequest.intent {request['intent']!r} is not an R4 request-intent")
        if request.get("priority", "routine") not in ("routine", "urgent", "asap", "stat"):
            fail(f"ServiceRequest.priority {request['priority']!r} is not an R4 request-priority")
        for e in bundle["entry"]:
            resource = e["resource"]
            if resource["resourceType"] == "Flag" and resource["status"] not in ("active", "inactive", "entered-in-error"):
                fail(f"Flag.status {resource['status']!r}")
            if resource["resourceType"] == "Patient":
                for identifier in resource.get("identifier", []):
                    if identifier["system"] != "https://fhir.nhs.uk/Id/nhs-number" or len(identifier["value"]) != 10:
                        fail(f"a Patient's identifier is not an NHS number: {identifier}")
        resources += len(kinds)
    print(f"ok: FHIR R4, {len(entries)} referral bundles, {resources} resources parsed")


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
    args = parser.parse_args()
    page = json.load(open(args.json, encoding="utf-8"))
    check_fhir(args.fhir, page)
    check_csv(args.csv, page)


if __name__ == "__main__":
    main()
