"""Checks form files against the published schema, docs/form.schema.json
(JSON Schema 2020-12, with the jsonschema package): each file named after
--valid must pass and each after --invalid must fail. Prints one line per
file and exits 1 on any surprise. Run by FormVersionTests."""
import argparse
import json
import sys

import jsonschema


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema", required=True)
    parser.add_argument("--valid", nargs="*", default=[])
    parser.add_argument("--invalid", nargs="*", default=[])
    arguments = parser.parse_args()
    with open(arguments.schema, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    surprises = 0
    for expected, paths in ((True, arguments.valid), (False, arguments.invalid)):
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
            errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
            valid = not errors
            verdict = "valid" if valid else f"invalid: {errors[0].message} at {'/'.join(map(str, errors[0].path))}"
            print(f"{path}: {verdict}")
            if valid != expected:
                surprises += 1
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())
