"""What every list shares: its paging parameters and the envelope of its answer."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from tasktracker.application.queries import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE

from .query_fields import QuerySchema


class PageQuerySchema(QuerySchema):
    """`page` and `page_size`, with the application's limits; a list's own parameters extend it."""

    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "1-based; a page past the last one is empty"},
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": "Items per page"},
    )


class PageSchema(ma.Schema):
    """A page of a list (tasktracker.application.ports.Page); page_of() makes one for each kind of item."""

    items = ma.fields.List(ma.fields.Raw(), required=True)
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True, metadata={"description": "Items matching the query, on all pages"})


def page_of(items: type[ma.Schema], **extra: ma.fields.Field[Any]) -> type[PageSchema]:
    """The page schema of `items`, named after it (TaskSchema -> TaskPageSchema, "TaskPage" in the document);
    `extra` fields say more about the whole list (the notifications' unread count)."""
    name = f"{items.__name__.removesuffix('Schema')}PageSchema"
    fields = {
        "items": ma.fields.List(ma.fields.Nested(items), required=True),
        **extra,
        "__module__": items.__module__,
    }
    return type(name, (PageSchema,), fields)
