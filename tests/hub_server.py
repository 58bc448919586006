"""A small fake Hugging Face Hub for tests, on loopback: enough of the Hub API that the real
`huggingface_hub.HfApi` (2.x), unpatched, can create a repo, upload a folder and list its files.

    with HubServer(tokens={"hf_TESTTOKEN"}) as server:
        api = HfApi(endpoint=server.url, token="hf_TESTTOKEN")
        api.create_repo("alice/tweets", repo_type="dataset", private=True, exist_ok=True)
        api.upload_folder(repo_id="alice/tweets", repo_type="dataset", folder_path=out,
                          delete_patterns="data/*", commit_message="Export")
        files = server.repos["alice/tweets"]["files"]
        assert files["README.md"] == (out / "README.md").read_bytes()

The preupload endpoint answers "regular" for every file, so the client sends each file's bytes
inline (base64) in the commit and never uses LFS or Xet. One branch: revisions are ignored. No
.gitattributes is made, no pull requests. A request with a bad token (when `tokens` is given)
gets 401 like the real Hub, and the client raises `huggingface_hub.errors.HfHubHTTPError`; an
unknown repo gets 404 with X-Error-Code RepoNotFound (`RepositoryNotFoundError`).

State, for tests to assert on:
    server.repos     repo_id -> {"type", "private", "files": {path: bytes},
                                 "commits": [{"message", "added": [paths], "deleted": [paths]}]}
    server.requests  [{"method", "path" (no query), "authorization" (header or None),
                       "json" (parsed body; a list of items for the commit's NDJSON; else None)}]
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# /api/datasets/alice/tweets[/preupload|commit|tree|revision/<revision>[/<path>]]
REPO_ROUTE = re.compile(r"^/api/(?P<type>model|dataset|space)s/(?P<repo>[^/]+(?:/[^/]+)?)"
                        r"(?:/(?P<op>preupload|commit|tree|revision)/(?P<rest>.*))?$")
BAD_TOKEN = "Invalid credentials in Authorization header"


def git_oid(data: bytes) -> str:
    """The git blob sha1 of `data`, as the Hub gives it for a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _error(status: int, message: str, code: str | None = None, **extra):
    headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
    return status, {"error": message, **extra}, headers


class HubServer:
    def __init__(self, *, tokens: set[str] | None = None, port: int = 0):
        self.tokens = set(tokens) if tokens is not None else None  # None: any token, or none
        self.port = port
        self.repos: dict[str, dict] = {}
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "HubServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="hub-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the Hub API -----------------------------------------------------------------------

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"

    def head(self, repo_id: str) -> str:
        """The commit id of the repo's head (deterministic: repo id and number of commits)."""
        return hashlib.sha1(f"{repo_id}@{len(self.repos[repo_id]['commits'])}".encode()).hexdigest()

    def _route(self, method: str, path: str, query: dict, auth: str | None, body):
        if self.tokens is not None and (auth or "").removeprefix("Bearer ") not in self.tokens:
            return _error(401, BAD_TOKEN)
        if method == "POST" and path == "/api/repos/create":
            rtype, name, org = body.get("type") or "model", body["name"], body.get("organization")
            repo_id = f"{org}/{name}" if org else name
            url = self.repo_url(rtype, repo_id)
            if repo_id in self.repos:  # the client reads "url" from the 409 when exist_ok=True
                return _error(409, f"You already created this {rtype} repo", url=url)
            private = body.get("visibility") == "private" or body.get("private") is True
            self.repos[repo_id] = {"type": rtype, "private": private, "files": {}, "commits": []}
            return 200, {"url": url, "name": repo_id, "id": repo_id}, {}
        if method == "DELETE" and path == "/api/repos/delete":
            org, name = body.get("organization"), body["name"]
            if self.repos.pop(f"{org}/{name}" if org else name, None) is None:
                return _error(404, "Repository not found", "RepoNotFound")
            return 200, {}, {}
        if method == "POST" and path == "/api/validate-yaml":  # create_commit checks README.md
            return 200, {"errors": [], "warnings": []}, {}
        m = REPO_ROUTE.match(path)
        if not m:
            return _error(404, f"no route {method} {path} in the fake Hub")
        repo_id, op, rest = m["repo"], m["op"], m["rest"] or ""
        repo = self.repos.get(repo_id)
        if repo is None or repo["type"] != m["type"]:
            return _error(404, "Repository not found", "RepoNotFound")
        if method == "POST" and op == "preupload":
            files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                      "oid": git_oid(repo["files"][f["path"]]) if f["path"] in repo["files"]
                      else None} for f in body["files"]]
            return 200, {"files": files, "commitOid": self.head(repo_id)}, {}
        if method == "POST" and op == "commit":
            return self._commit(repo_id, repo, body, query)
        if method == "GET" and op == "tree":
            _, _, sub = rest.partition("/")
            return self._tree(repo, unquote(sub).strip("/"), query.get("recursive") == ["true"])
        if method == "GET" and op in (None, "revision"):  # repo_info / dataset_info
            return 200, {"id": repo_id, "sha": self.head(repo_id), "private": repo["private"],
                         "siblings": [{"rfilename": p} for p in sorted(repo["files"])]}, {}
        return _error(404, f"no route {method} {path} in the fake Hub")

    def _commit(self, repo_id: str, repo: dict, lines, query: dict):
        if not isinstance(lines, list):
            return _error(400, "a commit is an application/x-ndjson body")
        if "create_pr" in query:
            return _error(400, "the fake Hub makes no pull requests")
        files, added, deleted, message = dict(repo["files"]), [], [], ""
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "header":
                message = value["summary"]
            elif key == "file":
                raw = value["content"]
                files[value["path"]] = (base64.b64decode(raw) if value.get("encoding") == "base64"
                                        else raw.encode())
                added.append(value["path"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    return _error(404, "A file with this name doesn't exist", "EntryNotFound")
                deleted.append(value["path"])
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                gone = [p for p in files if p.startswith(prefix)]
                for p in gone:
                    del files[p]
                deleted.extend(gone)
            else:  # lfsFile, or anything else: never asked for
                return _error(400, f"the fake Hub takes only inline files, not {key!r}")
        repo["files"] = files
        repo["commits"].append({"message": message, "added": added, "deleted": deleted})
        oid = self.head(repo_id)
        return 200, {"success": True, "commitOid": oid, "hookOutput": "",
                     "commitUrl": f"{self.repo_url(repo['type'], repo_id)}/commit/{oid}"}, {}

    def _tree(self, repo: dict, sub: str, recursive: bool):
        prefix = sub + "/" if sub else ""
        entries, folders = [], set()
        for path, data in sorted(repo["files"].items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix):].split("/")
            folders.update(prefix + "/".join(parts[:i]) for i in range(1, len(parts))
                           if recursive or i == 1)
            if recursive or len(parts) == 1:
                entries.append({"type": "file", "path": path, "size": len(data),
                                "oid": git_oid(data)})
        if sub and not entries and not folders:
            return _error(404, f"{sub} does not exist on \"main\"", "EntryNotFound")
        entries += [{"type": "directory", "path": p, "size": 0,
                     "oid": hashlib.sha1(p.encode()).hexdigest()} for p in sorted(folders)]
        return 200, entries, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects

    def _serve(self):
        hub: HubServer = self.server.hub
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get("Content-Type") or ""
        try:
            if "ndjson" in kind:  # the commit: one JSON item per line
                parsed = [json.loads(line) for line in body.splitlines() if line.strip()]
            else:
                parsed = json.loads(body) if "json" in kind and body else None
        except ValueError:
            parsed = None
        auth = self.headers.get("Authorization")
        with hub._lock:
            hub.requests.append({"method": self.command, "path": url.path,
                                 "authorization": auth, "json": parsed})
            try:
                status, payload, headers = hub._route(
                    self.command, url.path, parse_qs(url.query), auth, parsed)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                status, payload, headers = _error(400, f"bad request: {exc!r}")
        raw = json.dumps(payload).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(raw)),
                     **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args):  # quiet
        pass
