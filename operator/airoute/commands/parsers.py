"""Argument parsing and dispatch for the route commands (validate, inventory, status, drill, promote, abort).

What a command runs with (``rich``, YAML, the route stores, the governance policies) is imported
when that command runs: the gateway and the controller, started by the same ``airoute`` command,
do not load it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airoute.commands.inventory import RouteRow
    from airoute.commands.routes import RouteStore


def _store(args: argparse.Namespace) -> RouteStore:
    """Where the routes are read: one namespace (``-n``, a ``NAMESPACE/NAME`` route, or the
    kubeconfig's), every namespace only with ``-A``."""
    from airoute.commands.routes import FolderRouteStore, KubectlRoutes, RouteStoreError

    namespace = getattr(args, "route", "").rpartition("/")[0] or args.namespace
    if args.all_namespaces and namespace:
        raise RouteStoreError("-A lists every namespace: do not combine it with -n or NAMESPACE/NAME")
    if getattr(args, "routes_dir", None):
        return FolderRouteStore(args.routes_dir, namespace)
    return KubectlRoutes(args.kubeconfig, args.context, namespace, args.all_namespaces)


def _validate(args: argparse.Namespace) -> int:
    import yaml

    from airoute.commands.governance import GovernanceParams, PolicyParamsError
    from airoute.commands.validate import validate

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"airoute validate: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    policies = None
    if args.policies is not None:
        try:
            policies = GovernanceParams.from_configmap(yaml.safe_load(args.policies.read_text()))
        except (OSError, yaml.YAMLError, PolicyParamsError) as exc:
            print(f"airoute validate: --policies {args.policies}: {exc}", file=sys.stderr)
            return 2
    checked, findings = validate(args.paths, policies)
    for f in findings:
        print(f)
    verdict = "valid" if not findings else f"{len(findings)} problem(s)"
    print(f"{checked} AIRoute(s) checked: {verdict}", file=sys.stderr)
    return 1 if findings else 0


def _inventory(args: argparse.Namespace) -> int:
    from airoute.commands.inventory import inventory, to_json, to_markdown

    rows, broken = inventory(_store(args).routes())
    for b in broken:
        print(f"warning: {b}", file=sys.stderr)
    if args.output == "json":
        print(to_json(rows))
    elif args.output == "markdown":
        print(to_markdown(rows, args.capabilities), end="")
    else:
        _table(rows, args.capabilities)
    return 0


def _table(rows: list[RouteRow], capabilities: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from airoute.commands.inventory import RISKS, cannot_serve_lines, risk_texts

    table = Table(title="AI routes by tier")
    for col in ("route", "model", "tier", "backends", "risks", *(["cannot serve"] if capabilities else [])):
        table.add_column(col)
    for r in rows:
        backends = "\n".join(f"{b.name} {b.provider} {b.cloud}/{b.region} w={b.weight}" for b in r.backends)
        lacking = ["\n".join(cannot_serve_lines(r))] if capabilities else []
        table.add_row(r.route, r.model, r.tier, backends, "\n".join(risk_texts(r)) or "—", *lacking)
    Console().print(table)
    flagged = sum(bool(r.risks) for r in rows)
    print(f"{len(rows)} route(s), {flagged} with a single point of failure ({', '.join(RISKS)})")


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from airoute.commands.routes import find
    from airoute.commands.status import render

    store = _store(args)
    obj = find(store.routes(), args.route, args.namespace)
    meta = obj["metadata"]
    render(obj, store.events(meta["namespace"], meta["name"]), Console())
    return 0


def _drill(args: argparse.Namespace) -> int:
    from airoute.commands import actions
    from airoute.commands.routes import RouteStoreError, find

    store = _store(args)
    obj = find(store.routes(), args.route, args.namespace)
    if args.action == "report":
        print("\n".join(actions.drill_report(obj)))
        return 0
    if not args.backend:
        raise RouteStoreError(f"drill {args.action} needs a BACKEND")
    if args.action == "start":
        print(actions.start_drill(store, obj, args.backend, args.duration))
    else:
        print(actions.stop_drill(store, obj, args.backend))
    return 0


def _gate(args: argparse.Namespace) -> int:
    from airoute.commands import actions
    from airoute.commands.routes import find

    store = _store(args)
    obj = find(store.routes(), args.route, args.namespace)
    print(actions.gate(store, obj, args.command, args.backend))
    return 0


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--routes-dir", type=Path, help="a folder of AIRoute files instead of the cluster")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: kubectl's)")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("-n", "--namespace", help="namespace of the routes (default: the kubeconfig context's)")
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="every namespace (needs the right to list AIRoutes cluster-wide)",
    )


def add_route_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("validate", help="check AIRoute files offline (for pre-merge checks in GitOps repositories)")
    v.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    v.add_argument(
        "--policies",
        type=Path,
        metavar="CONFIGMAP",
        help="also apply the governance policies, with the parameters of this ConfigMap "
        "(e.g. policies/admission/governance-params.yaml)",
    )
    v.set_defaults(func=_validate)
    inv = sub.add_parser(
        "inventory", help="every AI route by tier, provider, cloud and region; flags single points of failure"
    )
    _target(inv)
    inv.add_argument("-o", "--output", choices=["table", "json", "markdown"], default="table")
    inv.add_argument("--capabilities", action="store_true",
                     help="also show the request features (images, tools, n > 1 …) each route cannot serve, "
                     "with every backend up and with each one down")
    inv.set_defaults(func=_inventory)
    st = sub.add_parser("status", help="a route's weights, health with reasons, rollouts and recent events")
    st.add_argument("route", metavar="ROUTE", help="NAME or NAMESPACE/NAME")
    _target(st)
    st.set_defaults(func=_status)
    d = sub.add_parser("drill", help="rehearse an outage: take a backend out for a while, then read the report")
    d.add_argument("action", choices=["start", "stop", "report"])
    d.add_argument("route", metavar="ROUTE")
    d.add_argument("backend", nargs="?", metavar="BACKEND")
    d.add_argument("--for", dest="duration", default="10m", help="how long the drill lasts (default 10m)")
    _target(d)
    d.set_defaults(func=_drill)
    for name, text in (
        ("promote", "make the current canary stable now"),
        ("abort", "roll the current canary back now"),
    ):
        g = sub.add_parser(name, help=text)
        g.add_argument("route", metavar="ROUTE")
        g.add_argument("--backend", help="which backend's rollout, when several are in progress")
        _target(g)
        g.set_defaults(func=_gate)


def run_route_command(args: argparse.Namespace) -> int:
    """Runs the chosen command; a RouteStoreError is a clear one-line error and exit code 1."""
    try:
        code: int = args.func(args)
    except Exception as exc:
        from airoute.commands.routes import RouteStoreError  # loaded by the commands that raise it

        if not isinstance(exc, RouteStoreError):
            raise
        print(f"airoute {args.command}: {exc}", file=sys.stderr)
        return 1
    return code
