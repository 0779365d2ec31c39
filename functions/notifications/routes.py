"""HTTP only: parse, call the use case, answer. Whose notification is whose is decided by the use case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app

from tasktracker.application.notifications import AllMarkedRead, NotificationUseCases
from tasktracker.application.ports import NotificationPage, NotificationQuery
from tasktracker.domain.entities import Notification, NotificationSettings
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import (
    AllMarkedReadSchema,
    NotificationPageSchema,
    NotificationQuerySchema,
    NotificationSchema,
    NotificationSettingsChangeSchema,
    NotificationSettingsSchema,
)

blp = FunctionBlueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="The signed-in user's own in-app notifications, newest first: read them and mark them read.",
)


def use_cases() -> NotificationUseCases:
    notifications: NotificationUseCases = current_app.extensions["notification_use_cases"]
    return notifications


@blp.route("", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(NotificationQuerySchema, location="query")
@blp.response(200, NotificationPageSchema)
@blp.error(400, description="unread, page or page_size is not valid")
def list_notifications(args: dict[str, Any]) -> NotificationPage:
    """Your notifications, newest first, with how many are unread"""
    return use_cases().list(
        NotificationQuery(
            user_id=current_user_id(),
            unread_only=args["unread"],
            page=args["page"],
            page_size=args["page_size"],
        )
    )


@blp.route("/<uuid:notification_id>/read", methods=["POST"])
@blp.requires_sign_in
@blp.response(200, NotificationSchema)
@blp.error(404, description="You have no such notification (another user's is not yours to see)")
def mark_read(notification_id: UUID) -> Notification:
    """Mark one of your notifications read; marking it again keeps when it was first read"""
    return use_cases().mark_read(current_user_id(), notification_id)


@blp.route("/read-all", methods=["POST"])
@blp.requires_sign_in
@blp.response(200, AllMarkedReadSchema)
def mark_all_read() -> AllMarkedRead:
    """Mark every one of your notifications read"""
    return use_cases().mark_all_read(current_user_id())


@blp.route("/settings", methods=["GET"])
@blp.requires_sign_in
@blp.response(200, NotificationSettingsSchema)
def get_settings() -> NotificationSettings:
    """Your notification settings: whether reminders also reach you by e-mail"""
    return use_cases().settings(current_user_id())


@blp.route("/settings", methods=["PUT"])
@blp.requires_sign_in
@blp.arguments(NotificationSettingsChangeSchema)
@blp.response(200, NotificationSettingsSchema)
def change_settings(body: dict[str, Any]) -> NotificationSettings:
    """Turn e-mail reminders on or off; reminders already sent are not affected"""
    return use_cases().change_settings(current_user_id(), email=body["email"])
