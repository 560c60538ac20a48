"""freehold's Python runtime client: the next -> handle -> respond loop of the Lambda
Runtime API, run inside a sandbox. Written for every Python a function may use (3.9+),
stdlib only, and never importing freehold.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

import importlib
import io
import json
import logging
import os
import socket
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"


class HandlerError(Exception):
    def __init__(self, error_type, message, stack=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


class CognitoIdentity:
    def __init__(self, document):
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, document):
        self.installation_id = document.get("installation_id")
        self.app_title = document.get("app_title")
        self.app_version_name = document.get("app_version_name")
        self.app_version_code = document.get("app_version_code")
        self.app_package_name = document.get("app_package_name")


class ClientContext:
    def __init__(self, document):
        self.client = Client(document["client"]) if document.get("client") else None
        self.custom = document.get("custom")
        self.env = document.get("env")


class LambdaContext:
    """The context object handlers receive, with the attributes AWS documents."""

    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class LambdaLogHandler(logging.Handler):
    """The root logger's format on Lambda: [LEVEL]\\ttimestamp\\trequest id\\tmessage."""

    request_id = ""

    def emit(self, record):
        try:
            moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            stamp = "%s.%03dZ" % (moment, int(record.msecs))
            message = self.format(record)
            sys.stdout.write("[%s]\t%s\t%s\t%s\n" % (record.levelname, stamp, self.request_id, message))
        except Exception:
            self.handleError(record)


def load_handler(spec):
    """module.function, where module may be a path (src/app.handler -> src.app)."""
    try:
        module_path, function_name = spec.rsplit(".", 1)
    except ValueError as error:
        raise HandlerError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, error))
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise HandlerError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, error))
    except SyntaxError as error:
        raise HandlerError(
            "Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, error),
            traceback.format_list(traceback.extract_tb(error.__traceback__)[1:]),
        )
    except Exception as error:
        frames = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
        raise HandlerError(type(error).__name__, str(error), frames)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name))
    return handler


def error_document(error_type, message, request_id, stack):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def log_error(document):
    lines = ["[ERROR] %s: %s" % (document["errorType"], document["errorMessage"])]
    if document["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in document["stackTrace"])
    # One log event, as AWS prints it: lines joined with carriage returns.
    sys.stdout.write("\r".join(lines) + "\n")


class Response:
    def __init__(self, status, headers):
        self.status = status
        self.headers = headers


class RuntimeApi:
    """HTTP/1.1 to the Runtime API over one kept-alive socket: requests written whole, answers
    read with their Content-Length (freehold's Runtime API always sends one). No name lookup:
    AWS_LAMBDA_RUNTIME_API is an address."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host.strip("[]") or "127.0.0.1", int(port or 80))
        self.host = address.encode("latin-1")
        self.sock = None
        self.buffer = b""

    def _connect(self):
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(self.address)
        except (OSError, ValueError):
            sock = socket.create_connection(self.address)  # a name after all
        self.sock = sock
        self.buffer = b""
        return sock

    def _encode(self, method, path, body=None, headers=None):
        head = [b"%s %s%s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), API_PREFIX.encode(), path.encode(),
                                                           self.host)]
        for key, value in (headers or {}).items():
            head.append(("%s: %s\r\n" % (key, value)).encode("latin-1"))
        if body is not None:
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        return b"".join(head) + (body or b"")

    def request(self, method, path, body=None, headers=None):
        return self._exchange(self._encode(method, path, body, headers), 1)

    def _exchange(self, data, answers):
        """Send `data` (`answers` requests, HTTP/1.1 pipelined) and read their answers in
        order: the last one is returned."""
        for attempt in (0, 1):
            sock = self.sock or self._connect()
            try:
                sock.sendall(data)
                for _ in range(answers - 1):
                    self._read_response(sock)
                return self._read_response(sock)
            except (ConnectionError, EOFError):
                sock.close()
                self.sock = None
                if attempt:  # a kept-alive connection the server closed: once more, anew
                    raise
        raise ConnectionError("the Runtime API closed the connection")

    def _fill(self, sock):
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _read_response(self, sock):
        while b"\r\n\r\n" not in self.buffer:
            self._fill(sock)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().title()] = value.strip()
        length = int(headers.get("Content-Length", "0"))
        while len(self.buffer) < length:
            self._fill(sock)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get("Connection", "").lower() == "close":
            sock.close()
            self.sock = None
        return Response(status, headers), body

    def next(self):
        return self.request("GET", "/invocation/next")

    def respond_and_next(self, request_id, body):
        """The response, and the request for the next invocation in the same write: one round
        trip per invocation instead of two (the Runtime API answers both, in order)."""
        data = self._encode("POST", "/invocation/%s/response" % request_id, body, {"Content-Type": "application/json"})
        return self._exchange(data + self._encode("GET", "/invocation/next"), 2)

    def error(self, path, document):
        headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": document["errorType"]}
        self.request("POST", path, json.dumps(document).encode(), headers)


def _prepare_process():
    # Lambda's Python runtime writes straight through: output must reach the logs even if
    # the sandbox is killed right after (timeouts, out of memory).
    sys.stdout = io.TextIOWrapper(open(1, "wb", 0, closefd=False), write_through=True, line_buffering=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", 0, closefd=False), write_through=True, line_buffering=True)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    version = "python%d.%d" % sys.version_info[:2]
    # A forked interpreter never read PYTHONPATH: its layer directories are added here.
    layer_paths = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p and p != "/var/runtime"]
    candidates = layer_paths + ["/opt/python/lib/%s/site-packages" % version, "/opt/python"]
    extra = [task_root] + [p for p in candidates if os.path.isdir(p)]
    sys.path[:0] = [p for p in extra if p not in sys.path]
    handler = LambdaLogHandler()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    return handler


def main():
    log_handler = _prepare_process()
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except HandlerError as error:
        document = error_document(error.error_type, error.message, "", error.stack)
        log_error(document)
        api.error("/init/error", document)
        sys.exit(1)
    pending = None  # the next invocation, when it came with the last response's answer
    while True:
        response, body = pending or api.next()
        pending = None
        headers = response.headers
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        log_handler.request_id = request_id
        if headers.get("Lambda-Runtime-Trace-Id"):
            os.environ["_X_AMZN_TRACE_ID"] = headers["Lambda-Runtime-Trace-Id"]
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            event = json.loads(body) if body else None
        except ValueError as error:
            api.error("/invocation/%s/error" % request_id, error_document(
                "Runtime.UnmarshalError", "Unable to unmarshal input: %s" % error, request_id, []))
            continue
        client_context = json.loads(headers["Lambda-Runtime-Client-Context"]) \
            if headers.get("Lambda-Runtime-Client-Context") else None
        identity = json.loads(headers["Lambda-Runtime-Cognito-Identity"]) \
            if headers.get("Lambda-Runtime-Cognito-Identity") else None
        context = LambdaContext(
            request_id, int(headers.get("Lambda-Runtime-Deadline-Ms", "0")),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"), client_context, identity,
        )
        try:
            result = handler(event, context)
        except Exception as error:
            frames = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
            document = error_document(type(error).__name__, str(error), request_id, frames)
            log_error(document)
            api.error("/invocation/%s/error" % request_id, document)
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            document = error_document("Runtime.MarshalError", "Unable to marshal response: %s" % error, request_id, [])
            log_error(document)
            api.error("/invocation/%s/error" % request_id, document)
            continue
        pending = api.respond_and_next(request_id, payload)


if __name__ == "__main__":
    main()
