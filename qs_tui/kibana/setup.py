"""`qs-tui kibana setup` and `remove`: install or take out data views, dashboard and tools.

Everything is keyed by a stable id, so running setup again updates in place and duplicates
nothing (Kibana API reference, https://www.elastic.co/docs/api/doc/kibana):

- data views: `GET /api/data_views/data_view/{id}`, then `POST /api/data_views/data_view`
  to create or `POST /api/data_views/data_view/{id}` to update ("only the specified fields are
  updated"); `override` is not used because it matches on the title, not the id;
- saved objects: `POST /api/saved_objects/_import?overwrite=true` (multipart, field `file`);
  each object keeps its id and an existing one is overwritten;
- Agent Builder tools: `GET /api/agent_builder/tools` lists them, `POST /api/agent_builder/tools`
  creates one, `PUT /api/agent_builder/tools/{toolId}` updates description, tags and
  configuration, `DELETE /api/agent_builder/tools/{toolId}` removes it.

A dry run makes only GET requests and prints what it would create, update or delete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qs_tui.kibana.client import KibanaClient, KibanaError, quote_id
from qs_tui.kibana.objects import (
    DASHBOARD_ID,
    SAVED_OBJECTS_FILE,
    DataView,
    ToolSpec,
    data_views,
    load_saved_objects,
    object_title,
    tools,
)

Say = Callable[[str], None]

_TOOLS_API = "/api/agent_builder/tools"
_VIEWS_API = "/api/data_views/data_view"


@dataclass
class Tally:
    """How many objects each verb touched (`created`, `updated`, `unchanged`, `deleted`, …)."""

    counts: dict[str, int] = field(default_factory=dict)
    tools_skipped: str | None = None

    def add(self, verb: str) -> None:
        """Count one object under `verb`."""
        self.counts[verb] = self.counts.get(verb, 0) + 1

    def summary(self) -> str:
        """`3 created, 2 unchanged` (or `nothing to do`)."""
        parts = [f"{n} {verb}" for verb, n in self.counts.items() if n]
        return ", ".join(parts) or "nothing to do"


# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------


def setup(
    client: KibanaClient,
    *,
    say: Say,
    dry_run: bool = False,
    telemetry: Mapping[str, str] | None = None,
) -> Tally:
    """Install the data views, the dashboard's saved objects and the Agent Builder tools.

    Args:
        client: the Kibana to install into (its space included).
        say: prints one line of progress.
        dry_run: only look (GET) and say what would change.
        telemetry: index pattern per telemetry role; default `qs-metrics` and `qs-logs`.

    Raises:
        KibanaError: a request failed (the message names the object and Kibana's answer).
        KibanaAssetError: the repository's NDJSON or a query header is malformed.
    """
    views = data_views(telemetry)
    # Check the files before touching Kibana, so a broken file changes nothing.
    ndjson, objects = load_saved_objects(views)
    specs = tools()
    tally = Tally()
    for view in views:
        _setup_view(client, view, say=say, dry_run=dry_run, tally=tally)
    if dry_run:
        for obj in objects:
            exists = _saved_object_exists(client, obj)
            verb = _verb("update" if exists else "create", dry_run=True)
            _said(say, tally, verb, f"{obj['type']} {obj['id']} ({object_title(obj)})")
    else:
        answer = client.import_saved_objects(ndjson.encode("utf-8"), filename=SAVED_OBJECTS_FILE)
        _report_import(answer, objects, say=say, tally=tally)
    existing = _existing_tools(client, say=say, tally=tally)
    if existing is not None:
        for spec in specs:
            _setup_tool(client, spec, existing.get(spec.id), say=say, dry_run=dry_run, tally=tally)
    return tally


def _setup_view(
    client: KibanaClient, view: DataView, *, say: Say, dry_run: bool, tally: Tally
) -> None:
    what = f"data view {view.id} ({view.title})"
    path = f"{_VIEWS_API}/{quote_id(view.id)}"
    found = client.request("GET", path, what=f"look up {what}", accept=(404,))
    if found.status == 404:
        if not dry_run:
            body = {"data_view": {"id": view.id, **view.attributes()}}
            client.request("POST", _VIEWS_API, what=f"create {what}", body=body)
        _said(say, tally, _verb("create", dry_run), what)
        return
    current = found.body.get("data_view") or {}
    wanted = view.attributes()
    if all(current.get(key) == wanted[key] for key in ("title", "name", "timeFieldName")):
        _said(say, tally, "unchanged", what)
        return
    if not dry_run:
        client.request("POST", path, what=f"update {what}", body={"data_view": wanted})
    _said(say, tally, _verb("update", dry_run), what)


def _verb(verb: str, dry_run: bool) -> str:
    """`would create` in a dry run, `created` otherwise."""
    return f"would {verb}" if dry_run else f"{verb}d"


def _said(say: Say, tally: Tally, verb: str, what: str) -> None:
    say(f"{verb} {what}")
    tally.add(verb)


def _saved_object_exists(client: KibanaClient, obj: Mapping[str, Any]) -> bool:
    path = f"/api/saved_objects/{quote_id(obj['type'])}/{quote_id(obj['id'])}"
    what = f"look up {obj['type']} {obj['id']}"
    return client.request("GET", path, what=what, accept=(404,)).status != 404


def _report_import(
    answer: Mapping[str, Any], objects: list[dict[str, Any]], *, say: Say, tally: Tally
) -> None:
    errors = answer.get("errors") or []
    if not answer.get("success") or errors:
        problems = []
        for item in errors:
            error = item.get("error") or {}
            kind = error.get("type", "error")
            detail = kind
            if kind == "missing_references":
                refs = ", ".join(
                    f"{r.get('type')} {r.get('id')}" for r in error.get("references") or []
                )
                detail = f"missing references: {refs}"
            elif error.get("message"):
                detail = f"{kind}: {error['message']}"
            problems.append(f"{item.get('type')} {item.get('id')} ({detail})")
        count = answer.get("successCount", 0)
        raise KibanaError(
            f"import saved objects from {SAVED_OBJECTS_FILE}: Kibana imported {count} of "
            f"{len(objects)}; " + "; ".join(problems or ["no details given"])
        )
    results = {(r.get("type"), r.get("id")): r for r in answer.get("successResults") or []}
    for obj in objects:
        result = results.get((obj["type"], obj["id"]), {})
        verb = _verb("update" if result.get("overwrite") else "create", dry_run=False)
        _said(say, tally, verb, f"{obj['type']} {obj['id']} ({object_title(obj)})")


def _existing_tools(
    client: KibanaClient, *, say: Say, tally: Tally
) -> dict[str, dict[str, Any]] | None:
    """QuantumState's tools already in Kibana by id, or None when Agent Builder is missing."""
    found = client.request("GET", _TOOLS_API, what="list Agent Builder tools", accept=(403, 404))
    skipped = _agent_builder_missing(found.status, found.message)
    if skipped is not None:
        say(f"skipped Agent Builder tools: {skipped}")
        tally.tools_skipped = skipped
        return None
    if found.status == 403:
        raise KibanaError(
            f"list Agent Builder tools: Kibana at {client.endpoint} answered HTTP 403 forbidden: "
            f"{found.message or 'the user or API key lacks the Agent Builder privilege'}"
        )
    results = found.body.get("results")
    tools_list = results if isinstance(results, list) else []
    return {t["id"]: t for t in tools_list if isinstance(t, dict) and isinstance(t.get("id"), str)}


def _agent_builder_missing(status: int, message: str) -> str | None:
    """Why this Kibana has no Agent Builder to install into, or None when it has one."""
    if status == 404:
        return "this Kibana has no Agent Builder API (HTTP 404 on /api/agent_builder/tools)"
    if status == 403 and "licen" in message.lower():
        return f"the licence does not include Agent Builder ({message})"
    return None


def _setup_tool(
    client: KibanaClient,
    spec: ToolSpec,
    current: Mapping[str, Any] | None,
    *,
    say: Say,
    dry_run: bool,
    tally: Tally,
) -> None:
    what = f"Agent Builder tool {spec.id}"
    if current is None:
        if not dry_run:
            client.request("POST", _TOOLS_API, what=f"create {what}", body=spec.create_body())
        _said(say, tally, _verb("create", dry_run), what)
        return
    wanted = spec.update_body()
    if all(current.get(key) == value for key, value in wanted.items()):
        _said(say, tally, "unchanged", what)
        return
    if not dry_run:
        path = f"{_TOOLS_API}/{quote_id(spec.id)}"
        client.request("PUT", path, what=f"update {what}", body=wanted)
    _said(say, tally, _verb("update", dry_run), what)


# ---------------------------------------------------------------------------------------------
# remove
# ---------------------------------------------------------------------------------------------


def remove(
    client: KibanaClient,
    *,
    say: Say,
    dry_run: bool = False,
    telemetry: Mapping[str, str] | None = None,
) -> Tally:
    """Take out everything `setup` installs: tools, the dashboard's objects, the data views.

    Objects already gone (404) are fine: remove is as idempotent as setup.
    """
    views = data_views(telemetry)
    _, objects = load_saved_objects(views)
    specs = tools()
    tally = Tally()
    existing = _existing_tools(client, say=say, tally=tally)
    if existing is not None:
        for spec in specs:
            path = f"{_TOOLS_API}/{quote_id(spec.id)}"
            listed: bool | None = spec.id in existing
            _delete(client, path, f"Agent Builder tool {spec.id}", listed, dry_run, say, tally)
    # The dashboard goes first, so no panel ever points at a deleted object.
    for obj in sorted(objects, key=lambda o: o["type"] != "dashboard"):
        path = f"/api/saved_objects/{quote_id(obj['type'])}/{quote_id(obj['id'])}"
        what = f"{obj['type']} {obj['id']} ({object_title(obj)})"
        present: bool | None = _saved_object_exists(client, obj) if dry_run else None
        _delete(client, path, what, present, dry_run, say, tally)
    for view in views:
        path = f"{_VIEWS_API}/{quote_id(view.id)}"
        what = f"data view {view.id} ({view.title})"
        exists: bool | None = None
        if dry_run:
            found = client.request("GET", path, what=f"look up {what}", accept=(404,))
            exists = found.status != 404
        _delete(client, path, what, exists, dry_run, say, tally)
    return tally


def _delete(
    client: KibanaClient,
    path: str,
    what: str,
    present: bool | None,
    dry_run: bool,
    say: Say,
    tally: Tally,
) -> None:
    """Delete one object; `present` is what a lookup found (None: not looked up)."""
    if present is False:
        say(f"already gone {what}")
        tally.add("already gone")
        return
    if dry_run:
        say(f"would delete {what}")
        tally.add("would delete")
        return
    answer = client.request("DELETE", path, what=f"delete {what}", accept=(404,))
    if answer.status == 404:
        say(f"already gone {what}")
        tally.add("already gone")
        return
    say(f"deleted {what}")
    tally.add("deleted")


def dashboard_url(client: KibanaClient) -> str:
    """Where the installed dashboard opens (no credentials in it)."""
    return client.app_url(f"/app/dashboards#/view/{DASHBOARD_ID}")
