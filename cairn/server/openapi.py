"""The OpenAPI description: FastAPI's own routes plus every MLflow endpoint of the route table."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cairn.server.mlflow.routes import ENDPOINTS

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error_code", "message"],
}


CALLER_ERROR = {
    "description": "Caller error: the one error shape, naming the field",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        for item in doc["paths"].values():  # a bad request is 400 in the one shape, never 422
            for operation in item.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
                responses.setdefault("4XX", CALLER_ERROR)  # any route may refuse its caller
        if "loc" in components.get("ValidationError", {}).get("properties", {}):
            del components["ValidationError"]  # FastAPI's 422 bodies, which Cairn never sends
        components.pop("HTTPValidationError", None)
        for ep in ENDPOINTS:
            prefix, twin = ep.prefixes
            schema = ep.message.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in schema.pop("$defs", {}).items():
                components[name] = sub
            components[ep.message.__name__] = schema
            ref = {"$ref": f"#/components/schemas/{ep.message.__name__}"}
            item = doc["paths"].setdefault(prefix + ep.path, {})
            for method in ep.methods:
                op: dict[str, Any] = {
                    "summary": ep.summary,
                    "tags": ["mlflow"],
                    "description": (ep.message.__doc__ or "").strip()
                    + f"\n\nAlso served under {twin}.",
                    "responses": {
                        "200": {"description": "Success (MLflow JSON conventions)"},
                        "4XX": {
                            "description": "Caller error",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        },
                    },
                }
                path_params = [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in re.findall(r"\{(\w+)\}", ep.path)
                ]
                if path_params:
                    op["parameters"] = path_params
                required = set(schema.get("required", []))
                if method == "GET":
                    op["parameters"] = [
                        *path_params,
                        *[
                            {
                                "name": name,
                                "in": "query",
                                "required": name in required,
                                "schema": prop,
                            }
                            for name, prop in schema.get("properties", {}).items()
                        ],
                    ]
                elif schema.get("properties"):
                    op["requestBody"] = {"content": {"application/json": {"schema": ref}}}
                item[method.lower()] = op
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
