"""
Serve a fake POK by hand: ``python -m openedx_pok.testing`` prints its URL and runs until Ctrl-C
or SIGTERM (its own handlers: a shell script's background job ignores SIGINT by default).

Templates: ``--template ID[:NAME[:PARAM[=LABEL],...]]``, e.g.
``--template course-cert:Course certificate:grade=Final grade,hours=Hours``.
"""

import argparse
import signal
import sys
import threading

from openedx_pok.testing.server import DEFAULT_TEMPLATE_ID, FakePokServer


def _template(value: str) -> tuple[str, str, list[tuple[str, str]]]:
    template_id, _, rest = value.partition(":")
    name, _, raw_parameters = rest.partition(":")
    parameters = []
    for item in filter(None, raw_parameters.split(",")):
        parameter_id, _, label = item.partition("=")
        parameters.append((parameter_id.strip(), label.strip() or parameter_id.strip()))
    if not template_id:
        raise argparse.ArgumentTypeError("a template needs an id")
    return template_id, name or template_id, parameters


def _emit_after(value: str) -> float | None:
    return None if value.lower() in ("never", "none") else float(value)


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(prog="python -m openedx_pok.testing", description=__doc__)
    arguments.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    arguments.add_argument(
        "--emit-after",
        type=_emit_after,
        default=5.0,
        help="seconds from processing to emitted; 'never' keeps credentials processing",
    )
    arguments.add_argument("--api-key", default="test-api-key", help="the API key clients must send")
    arguments.add_argument("--credits", type=int, default=1000, help="credits the organisation starts with")
    arguments.add_argument(
        "--template",
        type=_template,
        action="append",
        default=[],
        metavar="ID[:NAME[:PARAM[=LABEL],...]]",
        help=f"add a template (repeatable); '{DEFAULT_TEMPLATE_ID}' always exists",
    )
    arguments.add_argument("--page", action="append", default=[], metavar="ID[:NAME]", help="add a page")
    return arguments


def main(argv=None) -> int:
    options = parser().parse_args(argv)
    server = FakePokServer(
        api_key=options.api_key, emit_after=options.emit_after, port=options.port, credits=options.credits
    )
    server.add_template(DEFAULT_TEMPLATE_ID, name="Default template")
    for template_id, name, parameters in options.template:
        server.add_template(template_id, name=name, parameters=parameters)
    for page in options.page:
        page_id, _, name = page.partition(":")
        server.add_page(page_id, name or page_id)
    try:
        server.start()
    except OSError as error:
        sys.stderr.write(f"Cannot listen on 127.0.0.1:{options.port}: {error.strerror}; try --port 0.\n")
        return 1
    with server:
        sys.stdout.write(
            f"Fake POK serving at {server.url}\n"
            f"  POK_API_URL = {server.url!r}\n"
            f"  POK_API_KEY = {server.api_key!r}\n"
            f"  templates: {', '.join(sorted(server.templates))}\n"
            "Press Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        stopping = threading.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: stopping.set())
        stopping.wait()
        sys.stdout.write("Stopped.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
