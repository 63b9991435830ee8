"""Conversation formats: ``chat`` (messages with role and content) and ``sharegpt``
(conversations with from and value), checked turn by turn."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.data.fields import RecordSite, describe_type, list_field, text_field
from desktop_app.data.records import Message


@dataclass(frozen=True)
class ConversationLayout:
    """Where a conversation format keeps its turns, and what it calls the roles.

    Args:
        list_key: The record field holding the list of turns.
        role_key: The key naming who speaks in each turn.
        content_key: The key holding what was said.
        roles: Each accepted speaker name (lower case) to our role.
        names: Our role to the name this format uses for it, for messages.
    """

    list_key: str
    role_key: str
    content_key: str
    roles: dict[str, str]
    names: dict[str, str]


CHAT = ConversationLayout(
    list_key="messages",
    role_key="role",
    content_key="content",
    roles={"system": "system", "user": "user", "assistant": "assistant"},
    names={"system": "system", "user": "user", "assistant": "assistant"},
)

SHAREGPT = ConversationLayout(
    list_key="conversations",
    role_key="from",
    content_key="value",
    roles={
        "system": "system",
        "human": "user",
        "user": "user",
        "gpt": "assistant",
        "assistant": "assistant",
        "model": "assistant",
    },
    names={"system": "system", "user": "human", "assistant": "gpt"},
)


def _or_list(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _turn(item: object, index: int, layout: ConversationLayout, site: RecordSite) -> Message:
    prefix = f"{layout.list_key}[{index}]"
    if not isinstance(item, dict):
        raise site.problem(
            prefix,
            f"must be an object with '{layout.role_key}' and '{layout.content_key}', "
            f"got {describe_type(item)}",
            "wrong_type",
        )
    role_field = f"{prefix}.{layout.role_key}"
    speaker = item.get(layout.role_key)
    if speaker is None:
        raise site.problem(role_field, "is missing", "missing_field")
    if not isinstance(speaker, str):
        raise site.problem(role_field, f"must be text, got {describe_type(speaker)}", "wrong_type")
    role = layout.roles.get(speaker.strip().lower())
    if role is None:
        raise site.problem(
            role_field,
            f"is '{speaker}', which is not a known role; use {_or_list(list(layout.roles))}",
            "unknown_role",
        )
    content = text_field(
        item,
        layout.content_key,
        site,
        allow_blank=role == "system",
        name=f"{prefix}.{layout.content_key}",
    )
    return Message(role, content or "")


def _check_order(messages: list[Message], layout: ConversationLayout, site: RecordSite) -> None:
    """System first if at all, then user and assistant in turn, ending with assistant."""
    user, assistant = layout.names["user"], layout.names["assistant"]
    turns = 0
    for index, message in enumerate(messages):
        role_field = f"{layout.list_key}[{index}].{layout.role_key}"
        if message.role == "system":
            if index != 0:
                raise site.problem(
                    role_field, "is a system message, which is only allowed first", "role_order"
                )
            continue
        expected = "user" if turns % 2 == 0 else "assistant"
        if message.role != expected:
            raise site.problem(
                role_field,
                f"should be {layout.names[expected]} here but is {layout.names[message.role]}; "
                f"turns must alternate {user}, {assistant}, starting with {user}",
                "role_order",
            )
        turns += 1
    if messages[-1].role != "assistant":
        last = layout.names[messages[-1].role]
        raise site.problem(
            layout.list_key,
            f"must end with {_a(assistant)} turn (the answer to learn), "
            f"but ends with {_a(last)} turn",
            "no_answer",
        )


def conversation_messages(
    record: dict[str, object], layout: ConversationLayout, site: RecordSite
) -> tuple[Message, ...]:
    """The checked messages of a conversation record.

    Args:
        record: The raw record.
        layout: Which conversation format it is in.
        site: Where the record is.

    Raises:
        RecordProblemError: naming the first turn that is malformed or out of order.
    """
    items = list_field(record, layout.list_key, site, "messages")
    messages = [_turn(item, index, layout, site) for index, item in enumerate(items)]
    _check_order(messages, layout, site)
    return tuple(messages)
