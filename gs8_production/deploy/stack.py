"""`make gs8-stack`: gs8 as it runs in production, rehearsed on one machine.

    browser --https/wss--> nginx --/static/--> files from collectstatic
                                 --/ws/-----> uvicorn "host A" | uvicorn "host B"  (ASGI)
                                 --/--------> gunicorn                              (WSGI)
    background jobs: `manage.py runworker chat-mentions` (chat/workers.py), fed through Redis
    channel layer: Redis primary + replica, watched by three Sentinels
    database: PostgreSQL at DATABASE_URL (by default a local database made on first use)

Every process is a child of this one, in its own process group; Ctrl-C or SIGTERM stops them
all. Its files (certificate, secret key, rendered configurations, logs) live in build/stack/,
which git ignores. The tests start the same Stack on free ports (gs8_production/tests/).
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

HERE = Path(__file__).resolve().parent
LESSON = HERE.parent
ROOT = LESSON.parent
DEFAULT_STATE = ROOT / "build" / "stack"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/gs8_stack"
# Websocket messages of 1 MiB and more are dropped by the ASGI servers, as in every lesson.
MAX_MESSAGE_BYTES = 1024 * 1024 - 1
# Program -> the Debian package that has it.
PROGRAMS = {"nginx": "nginx", "redis-server": "redis-server", "redis-sentinel": "redis-sentinel"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def redis(port):
    return Redis(host="127.0.0.1", port=port, socket_timeout=2)


def missing_programs(say=print):
    """Programs the stack needs that are not installed; as root, installs them first."""
    missing = [p for p in PROGRAMS if not shutil.which(p)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        packages = sorted({PROGRAMS[p] for p in missing})
        say(f"installing {' '.join(packages)} from Debian's packages ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env,
                       stdout=subprocess.DEVNULL)
        missing = [p for p in PROGRAMS if not shutil.which(p)]
    return missing


class Stack:
    def __init__(self, port=8443, workers=2, state=DEFAULT_STATE, database_url=None,
                 ws_timeout=60, ping_interval=20, down_after_ms=2000, say=print):
        self.port, self.workers, self.state = port, workers, Path(state)
        self.database_url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
        self.ws_timeout, self.ping_interval, self.down_after_ms = (
            ws_timeout, ping_interval, down_after_ms)
        self.say = say
        self.master = "gs8"
        names = ["asgi-a", "asgi-b", "wsgi", "redis-primary", "redis-replica",
                 "sentinel-1", "sentinel-2", "sentinel-3"]
        self.ports = {name: free_port() for name in names}
        self.processes = {}
        self.commands = {}  # name -> (command, folder): how to start that part again
        self.stopped = set()  # parts killed on purpose (fault tests): not a failure

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def sentinels(self):
        return [self.ports[f"sentinel-{i}"] for i in (1, 2, 3)]

    def env(self):
        """What the Django processes read (gs8/settings.py): production, behind a TLS proxy."""
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update({
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": self.secret_key(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"{self.url},https://localhost:{self.port}",
            "DJANGO_SECURE_PROXY": "1",
            "DJANGO_STATIC_ROOT": str(self.state / "static"),
            "DATABASE_URL": self.database_url,
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinels()),
            "REDIS_SENTINEL_MASTER": self.master,
            "CHANNEL_LAYER_PREFIX": f"gs8stack{self.port}",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def secret_key(self):
        # Made once and kept in build/stack/ (ignored by git), never in the source.
        path = self.state / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    # Starting ---------------------------------------------------------------------------

    def start(self):
        missing = missing_programs(self.say)
        if missing:
            packages = " ".join(sorted({PROGRAMS[p] for p in missing}))
            raise SystemExit(f"gs8-stack needs {', '.join(missing)}: "
                             f"sudo apt-get install {packages}")
        for folder in ("logs", "tls", "static", *(f"nginx-tmp/{t}" for t in
                       ("body", "proxy", "fastcgi", "uwsgi", "scgi"))):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        self.certificate()
        self.create_database()
        try:
            self.start_redis()
            self.manage("migrate", "--noinput", "-v", "0")
            self.manage("collectstatic", "--noinput", "-v", "0")
            self.start_django()
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def certificate(self):
        """A self-signed certificate for 127.0.0.1 and localhost, made on first use."""
        cert, key = self.state / "tls" / "cert.pem", self.state / "tls" / "key.pem"
        if cert.exists() and key.exists():
            return
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        private = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gs8-stack (self-signed)")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(private, hashes.SHA256())
        )
        key.write_bytes(private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        key.chmod(0o600)
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    def create_database(self):
        """The stack's PostgreSQL database, created if it does not exist yet."""
        import psycopg
        from psycopg import sql

        url = self.database_url
        if not url.startswith(("postgres://", "postgresql://")):
            return  # another engine: nothing to create
        name = url.rsplit("/", 1)[1].split("?")[0]
        server = url.rsplit("/", 1)[0] + "/postgres"
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
                exists = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
                if not exists:
                    connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.OperationalError as error:
            raise SystemExit(f"gs8-stack needs PostgreSQL at {url} ({error}); install it "
                             "(sudo apt-get install postgresql) or set DATABASE_URL") from None

    def render(self, template, target, **values):
        text = (HERE / template).read_text()
        for name, value in values.items():
            text = text.replace(f"@{name}@", str(value))
        target.write_text(text)
        return target

    def start_redis(self):
        primary, replica = self.ports["redis-primary"], self.ports["redis-replica"]
        for name, port in (("redis-primary", primary), ("redis-replica", replica)):
            folder = self.state / "redis" / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            conf = self.render("redis.conf", folder / "redis.conf", PORT=port, DIR=folder,
                               STATE=self.state)
            if name == "redis-replica":
                with conf.open("a") as f:
                    f.write(f"replicaof 127.0.0.1 {primary}\n")
            self.spawn(name, ["redis-server", str(conf)])
        self.wait_for(lambda: redis(replica).info("replication")["master_link_status"] == "up",
                      "the replica to copy the primary")
        for i, port in enumerate(self.sentinels(), 1):
            folder = self.state / "redis" / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            # A Sentinel rewrites its own configuration file: each gets a fresh copy.
            conf = self.render("sentinel.conf", folder / "sentinel.conf", PORT=port, DIR=folder,
                               STATE=self.state, MASTER=self.master, PRIMARY=primary,
                               DOWN_AFTER=self.down_after_ms)
            self.spawn(f"sentinel-{i}", ["redis-sentinel", str(conf)])
        for port in self.sentinels():
            self.wait_for(lambda port=port: self.primary_port(port) == primary,
                          "the Sentinels to find the primary")

    def manage(self, *args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=LESSON, env=self.env(),
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    # --8<-- [start:django]
    def start_django(self):
        self.spawn("wsgi", [sys.executable, "-m", "gunicorn", "gs8.wsgi:application",
                            "--bind", f"127.0.0.1:{self.ports['wsgi']}", "--workers", "2"],
                   cwd=LESSON)
        for name in ("asgi-a", "asgi-b"):
            self.spawn(name, [
                sys.executable, "-m", "uvicorn", "gs8.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.ports[name]),
                "--workers", str(self.workers), "--ws-max-size", str(MAX_MESSAGE_BYTES),
                "--ws-ping-interval", str(self.ping_interval),
                # nginx is the only client: trust its X-Forwarded-Proto (https, wss).
                "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
                "--log-level", "warning"], cwd=LESSON)
        # The background worker: slow work for every stored message (chat/workers.py).
        self.spawn("worker", [sys.executable, "manage.py", "runworker", "chat-mentions",
                              "-v", "0"], cwd=LESSON)
        for name in ("wsgi", "asgi-a", "asgi-b"):
            self.wait_for(lambda name=name: listening(self.ports[name]), f"{name} to listen")
    # --8<-- [end:django]

    def start_nginx(self):
        root = os.geteuid() == 0
        if root:
            # As root, nginx's workers drop to www-data: they write their temporary files here
            # and must be able to read the static files and the certificate's folder.
            for folder in (self.state / "nginx-tmp").iterdir():
                shutil.chown(folder, "www-data")
            probe = self.state / "static"
            if subprocess.run(["runuser", "-u", "www-data", "--", "test", "-x", str(probe)]
                              ).returncode != 0:
                raise SystemExit(f"nginx's workers run as www-data and cannot reach {probe}: "
                                 "put the stack's state in a folder www-data can read")
        conf = self.render(
            "nginx.conf", self.state / "nginx.conf", STATE=self.state, PORT=self.port,
            ASGI_A=self.ports["asgi-a"], ASGI_B=self.ports["asgi-b"], WSGI=self.ports["wsgi"],
            STATIC_ROOT=self.state / "static", WS_TIMEOUT=self.ws_timeout,
            PING=self.ping_interval, USER="user www-data;" if root else "")
        self.spawn("nginx", ["nginx", "-p", str(self.state), "-c", str(conf),
                             "-e", str(self.state / "logs" / "nginx-error.log"),
                             "-g", "daemon off;"])
        self.wait_for(lambda: listening(self.port), "nginx to listen")

    def spawn(self, name, command, cwd=None):
        self.commands[name] = (command, cwd)
        log = (self.state / "logs" / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            command, cwd=cwd or self.state, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()

    def wait_for(self, ready, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None and name not in self.stopped:
                    raise RuntimeError(f"{name} exited ({process.returncode}) while waiting "
                                       f"for {what}:\n{self.log(name)}")
            try:
                if ready():
                    return
            except (OSError, KeyError, RedisError):
                pass  # not up yet
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def log(self, name, tail=3000):
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    # Faults and stopping ----------------------------------------------------------------

    def kill(self, name, sig=signal.SIGKILL):
        """Kill one part of the stack (a whole process group: uvicorn's workers too)."""
        process = self.processes[name]
        self.stopped.add(name)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(10)

    def start_part(self, name):
        """Start again a part that kill() stopped, with the same command and port."""
        command, cwd = self.commands[name]
        self.spawn(name, command, cwd)
        self.stopped.discard(name)
        if name in self.ports:
            self.wait_for(lambda: listening(self.ports[name]), f"{name} to listen again")

    def primary_port(self, sentinel=None):
        """The Redis port a Sentinel names as the primary now."""
        address = redis(sentinel or self.sentinels()[0]).sentinel_get_master_addr_by_name(
            self.master)
        return int(address[1]) if address else None

    def stop(self):
        """SIGTERM to every process group, newest first; SIGKILL to what is left after 10 s."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def pids(self):
        """Every process still alive in the stack's process groups."""
        return alive_in({p.pid for p in self.processes.values()})


def alive_in(groups):
    """The processes still alive in these process groups (a part's workers included)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in groups:
                    alive.append(int(entry.name))
            except ProcessLookupError:
                pass
    return alive


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8443)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 2)))
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE,
                        help="where the certificate, secret key, configurations and logs go")
    args = parser.parse_args()
    if listening(args.port):
        sys.exit(f"port {args.port} is taken: pick another, for example PORT=8444 make gs8-stack")
    stack = Stack(port=args.port, workers=args.workers, state=args.state)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        print(f"\ngs8_production, the production stack: open {stack.url}/ "
              "(a self-signed certificate: your browser will ask you to accept it)")
        print(f"  nginx        {stack.url}  (static files, pages -> gunicorn, /ws/ -> uvicorn)")
        for name in ("wsgi", "asgi-a", "asgi-b"):
            print(f"  {name:12} 127.0.0.1:{stack.ports[name]}")
        print("  worker       manage.py runworker chat-mentions")
        print(f"  Redis        primary 127.0.0.1:{stack.ports['redis-primary']}, replica "
              f"127.0.0.1:{stack.ports['redis-replica']}, Sentinels "
              + ", ".join(f"127.0.0.1:{p}" for p in stack.sentinels()))
        print(f"  PostgreSQL   {stack.database_url}")
        print(f"  logs         {stack.state / 'logs'}/")
        print(f"  a user:      cd gs8_production && DATABASE_URL={stack.database_url} "
              "../.venv/bin/python manage.py createsuperuser")
        print("Ctrl-C stops every process.", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
