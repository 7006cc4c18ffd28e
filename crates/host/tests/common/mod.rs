//! The real `portcullis serve` on a loopback port, a temporary data directory, and a tiny
//! HTTP/1.1 client. Every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// `target/` of the binary under test.
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portcullis"))
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>/portcullis")
        .to_owned()
}

/// Builds the component (release, wasm32-wasip2) once per test binary, so the tests always run
/// the component of this tree; returns its path.
pub fn component() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let status = Command::new(cargo)
                .current_dir(&root)
                .args([
                    "build",
                    "--locked",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "-p",
                    "portcullis-component",
                    "--target-dir",
                ])
                .arg(target_dir())
                .status()
                .expect("running cargo");
            assert!(status.success(), "building the component failed");
            target_dir().join("wasm32-wasip2/release/portcullis_component.wasm")
        })
        .clone()
}

/// Compiled components shared by the tests' servers (each has its own data directory).
pub fn cache_dir() -> PathBuf {
    target_dir().join("tmp/portcullis-host-tests-cache")
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    data: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// Every line the server printed (stdout and stderr).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `portcullis serve` on a new temporary data directory, with `env` added to its
    /// environment.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Server::start_with(&[], env)
    }

    /// [`Server::start`] with more arguments of `serve`.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let mut server = Server::start_at_with(&temp.path().join("data"), args, env);
        server._temp = Some(temp);
        server
    }

    /// Starts `portcullis serve` on `data` (which the caller removes).
    pub fn start_at(data: &std::path::Path, env: &[(&str, &str)]) -> Server {
        Server::start_at_with(data, &[], env)
    }

    fn start_at_with(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--data")
            .arg(data)
            .arg("--component")
            .arg(component())
            .env("PORTCULLIS_HOST_CACHE_DIR", cache_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only the settings of this test: the core refuses unknown PORTCULLIS_* variables, and the
        // test scripts export some of their own.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")) {
            command.env_remove(k);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("starting portcullis");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        for stream in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let log = log.clone();
            let ready_tx = ready_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("portcullis: listening on http://") {
                        let _ = ready_tx.send(addr.parse::<SocketAddr>().ok());
                    }
                    log.lock().unwrap().push(line);
                }
                let _ = ready_tx.send(None);
            });
        }
        let addr = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(addr)) => addr,
            other => {
                let _ = child.kill();
                panic!("portcullis did not start ({other:?}): {:#?}", log.lock().unwrap());
            }
        };
        Server { child, addr, data: data.to_owned(), _temp: None, log }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.clone()
    }

    pub fn bootstrap_token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("bootstrap-token")).unwrap().trim().to_owned()
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&serde_json::Value>) -> Reply {
        let body = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let mut headers = vec![];
        let auth;
        if let Some(token) = token {
            auth = format!("Bearer {token}");
            headers.push(("authorization", auth.as_str()));
        }
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        self.raw(method, path, &headers, &body)
    }

    /// Sends one request on a fresh connection and reads the whole answer.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.send(method, path, headers, Some(body.len()), body)
    }

    /// Like `raw`, with the `Content-Length` given separately (or none).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        length: Option<usize>,
        body: &[u8],
    ) -> Reply {
        let mut stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).expect("connecting");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n", self.addr);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(length) = length {
            head.push_str(&format!("content-length: {length}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("writing the request");
        // The server may answer (413) before reading everything; that is not our error.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Reply::parse(&raw)
            .unwrap_or_else(|| panic!("malformed answer to {method} {path}: {:?}", String::from_utf8_lossy(&raw)))
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        self.wait_for_logs(needle, 1)
    }

    /// Waits (bounded) until at least `count` log lines contain `needle`.
    pub fn wait_for_logs(&self, needle: &str, count: usize) -> bool {
        let deadline = Instant::now() + IO_TIMEOUT;
        while Instant::now() < deadline {
            if self.logs_with(needle) >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// How many log lines so far contain `needle`.
    pub fn logs_with(&self, needle: &str) -> usize {
        self.log_lines().iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn parse(raw: &[u8]) -> Option<Reply> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Some(Reply { status, headers, body: raw[end + 4..].to_vec() })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `type` of the first error detail.
    pub fn error_type(&self) -> String {
        self.json()["detail"][0]["type"].as_str().unwrap_or("").to_owned()
    }
}
