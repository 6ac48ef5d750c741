#!/usr/bin/env python3
"""Checks that the server's OpenAPI document is a valid OpenAPI 3 document.

Needs openapi-spec-validator from PyPI (`pip install openapi-spec-validator`).
Usage: tools/validate_openapi.py [Sources/RerankServer/Web/openapi.json]
"""
import json, sys
from openapi_spec_validator import validate

path = sys.argv[1] if len(sys.argv) > 1 else "Sources/RerankServer/Web/openapi.json"
with open(path) as f:
    validate(json.load(f))
print(f"{path}: valid OpenAPI 3")
