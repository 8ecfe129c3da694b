"""marshmallow schemas, one module per resource: every payload is described once here,
and the OpenAPI document is built from them."""
