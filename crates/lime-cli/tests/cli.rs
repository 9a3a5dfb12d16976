//! The built `lime` binary, run as a user would: separate processes,
//! exit codes provoked for real, JSON parsed, secrets looked for.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

fn lime() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lime"));
    for var in [
        "LIME_AGENT_TOKEN",
        "LIME_API_BASE",
        "LIME_POW_SCHEME",
        "LIME_SITE_TOKEN",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    // The demo keeps its signing key in the user's cache: this run's own.
    cmd.env("XDG_CACHE_HOME", cache_home());
    cmd
}

fn cache_home() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("lime-cli-tests-cache-{}", std::process::id()))
}

fn run(cmd: &mut Command) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        status.code().unwrap_or(-1),
        json,
        stdout + &String::from_utf8_lossy(&stderr),
    )
}

/// `lime serve` in the background; stopped with SIGTERM on drop.
struct Server {
    child: Child,
    base_url: String,
    agent_token: String,
    site_token: String,
    /// The whole `--json` line it printed.
    info: Value,
}

impl Server {
    fn start(difficulty: u32, extra: &[&str]) -> Server {
        let mut child = lime()
            .args(["serve", "--json", "--difficulty", &difficulty.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        Server {
            child,
            base_url: v["base_url"].as_str().unwrap().to_owned(),
            agent_token: v["agent_token"].as_str().unwrap().to_owned(),
            site_token: v["site_token"].as_str().unwrap().to_owned(),
            info: v,
        }
    }

    fn agent(&self) -> Command {
        let mut cmd = lime();
        cmd.env("LIME_API_BASE", &self.base_url)
            .env("LIME_AGENT_TOKEN", &self.agent_token);
        cmd
    }

    fn site(&self) -> Command {
        let mut cmd = lime();
        cmd.env("LIME_API_BASE", &self.base_url)
            .env("LIME_SITE_TOKEN", &self.site_token);
        cmd
    }

    fn create(&self) -> String {
        let (code, json, all) = run(self.site().args(["site", "create", "--json"]));
        assert_eq!(code, 0, "{all}");
        json["request_id"].as_str().unwrap().to_owned()
    }

    fn stop(mut self) -> i32 {
        terminate(&self.child);
        let status = self.child.wait().unwrap();
        status.code().unwrap_or(-1)
    }
}

fn terminate(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A plain HTTP GET, for reading what the public endpoint says.
fn http_get(base_url: &str, path: &str) -> Value {
    let response = http_get_raw(base_url, path);
    serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// A plain HTTP/1.0 GET: the whole response, status line and headers included.
fn http_get_raw(base_url: &str, path: &str) -> String {
    let rest = base_url.trim_start_matches("http://");
    let (host, prefix) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{prefix}{path} HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn demo_completes_the_cycle() {
    let (code, json, all) = run(lime().args(["demo", "--json", "--difficulty", "12"]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["status"], "DELIVERED");
    assert!(json["request_id"].as_str().unwrap().starts_with("lr_"));
    // Everything the timeline shows, in the units every command uses.
    let pow = &json["login"]["pow"];
    assert!(
        pow["hashes"].as_u64().unwrap() > 0 && pow["elapsed_ms"].is_u64(),
        "{json}"
    );
    assert_eq!(
        (&pow["difficulty"], &pow["scheme"]),
        (&Value::from(12), &Value::from("v1"))
    );
    assert_eq!(json["emulator"]["difficulty"], 12);
    assert!(["APPROVED", "DELIVERED"].contains(&json["login"]["status"].as_str().unwrap()));
    assert!(json["event"]["event_id"].is_string(), "{json}");
    assert_eq!(json["passport"]["agent_id"], "agent_emulated");
    assert!(
        json["passport"]["issued_at"]
            .as_str()
            .unwrap()
            .contains('T'),
        "{json}"
    );
    assert!(json["elapsed_ms"].is_u64());
    assert!(!json.to_string().contains("solve_ms"));
    // The signing key was made once and kept, owner-only, for later runs.
    let key_file = cache_home().join("lime").join("demo-signing-key.der");
    let kept = std::fs::read(&key_file).expect("the demo keeps its key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // And the MCP half: a token for the demo's MCP server, whoami over HTTPS.
    assert_eq!(json["mcp"]["domain"], "mcp.lime.demo");
    assert_eq!(json["mcp"]["whoami"]["agent_id"], "agent_emulated");
    assert!(
        json["mcp"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://mcp.lime.demo:")
    );
    let (code, _, text) = run(lime().args(["demo", "--scheme", "legacy", "--difficulty", "10"]));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("passport verified") && text.contains("DELIVERED"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        kept,
        "the second run reused it"
    );
}

#[test]
fn serve_site_login_wait_and_profile_as_separate_processes() {
    let server = Server::start(8, &[]);
    let id = server.create();
    let (code, json, all) = run(server.agent().args(["login", &id, "--json"]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["request_id"], id.as_str());
    assert!(json["status"] == "APPROVED" || json["status"] == "DELIVERED");
    let (code, json, all) =
        run(server
            .site()
            .args(["site", "wait", &id, "--json", "--timeout", "10"]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["event"], "approved");
    assert_eq!(json["approved_earlier"], false);
    assert_eq!(json["passport"]["audience"], "lime-site-login");
    assert_eq!(json["passport"]["request_id"], id.as_str());
    // Text times are to the millisecond, as JSON's are.
    let again = server.create();
    let (code, _, text) = run(server.agent().args(["login", &again]));
    assert_eq!(code, 0, "{text}");
    let expires = text
        .lines()
        .find(|l| l.trim_start().starts_with("expires"))
        .unwrap();
    let stamp = expires.split_whitespace().last().unwrap();
    assert_eq!(
        stamp.len(),
        "2026-12-04T12:00:00.000+00:00".len(),
        "{stamp}"
    );
    assert_eq!(&stamp[19..20], ".", "{stamp}");
    let (code, json, all) = run(server.agent().args(["profile", "--json"]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["agent_id"], "agent_emulated");
    assert!(json["owner_id"].is_string());
    assert_eq!(server.stop(), 0, "SIGTERM is a graceful stop");
}

#[test]
fn serve_tls_and_login_trusting_its_ca() {
    let mut child = lime()
        .args(["serve", "--json", "--difficulty", "8", "--tls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let base = v["base_url"].as_str().unwrap();
    assert!(base.starts_with("https://127.0.0.1:"));
    let ca = v["ca_pem_path"].as_str().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let file = std::fs::metadata(ca).unwrap().permissions().mode() & 0o777;
        let dir = std::path::Path::new(ca).parent().unwrap();
        let dir_mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!((file, dir_mode), (0o600, 0o700), "{ca}");
        assert!(
            !dir.ends_with(format!("lime-emulator-ca-{}", child.id())),
            "a predictable path"
        );
    }
    let agent = |extra: &[&str]| {
        let mut cmd = lime();
        cmd.env("LIME_API_BASE", base)
            .env("LIME_AGENT_TOKEN", v["agent_token"].as_str().unwrap())
            .args(["profile", "--json", "--max-retries", "0"])
            .args(extra);
        run(&mut cmd)
    };
    let (code, json, all) = agent(&["--ca-cert", ca]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["agent_id"], "agent_emulated");
    let (code, json, _) = agent(&[]);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--ca-cert FILE"),
        "the message names the flag that fixes it: {json}"
    );
    assert_eq!(
        (code, error_of(&json).0),
        (7, "transport"),
        "an untrusted certificate is refused"
    );
    terminate(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(
        !std::path::Path::new(ca).exists(),
        "the CA file is removed on stop"
    );
    assert!(
        !std::path::Path::new(ca).parent().unwrap().exists(),
        "its private directory too"
    );
}

#[test]
fn a_spinner_shows_long_solves_on_a_terminal_only() {
    let server = Server::start(64, &[]);
    let id = server.create();
    let login = format!(
        "LIME_API_BASE={} LIME_AGENT_TOKEN={} {} login {id} --pow-timeout 1",
        server.base_url,
        server.agent_token,
        env!("CARGO_BIN_EXE_lime")
    );
    // `script` gives the command a pseudo-terminal (util-linux, on every Debian).
    let out = Command::new("script")
        .args(["-qec", &login, "/dev/null"])
        .output()
        .expect("`script` from util-linux");
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(terminal.contains("solving difficulty 64: "), "{terminal}");
    // Hashes, rate, time so far and the expected total, not a countdown.
    assert!(terminal.contains(" M/s, "), "{terminal}");
    assert!(
        terminal.contains("s so far, about centuries expected in all"),
        "{terminal}"
    );
    // On failure the line is cleared before the error is printed.
    let after_clear = &terminal[terminal.rfind("\r\x1b[2K").expect("a cleared line")..];
    assert!(
        after_clear.contains("error") && !after_clear.contains("solving"),
        "{terminal:?}"
    );
    let (code, _, piped) = run(server.agent().args(["login", &id, "--pow-timeout", "1"]));
    assert_eq!(code, 5);
    assert!(
        !piped.contains("solving difficulty"),
        "no spinner without a terminal: {piped}"
    );
}

#[test]
fn pow_solve_then_verify_round_trips() {
    let (code, json, all) = run(lime().args([
        "pow",
        "solve",
        "--challenge",
        "abc",
        "--difficulty",
        "16",
        "--json",
    ]));
    assert_eq!(code, 0, "{all}");
    let nonce = json["nonce"].as_str().unwrap().to_owned();
    assert_eq!(json["scheme"], "v1");
    let (code, json, _) = run(lime().args([
        "pow",
        "verify",
        "--challenge",
        "abc",
        "--difficulty",
        "16",
        "--nonce",
        &nonce,
        "--json",
    ]));
    assert_eq!((code, json["valid"].as_bool()), (0, Some(true)));
    let (code, _, _) = run(lime().args([
        "pow",
        "verify",
        "--challenge",
        "abd",
        "--difficulty",
        "16",
        "--nonce",
        &nonce,
    ]));
    assert_eq!(code, 1);
    let (code, json, _) = run(lime().args([
        "pow",
        "solve",
        "--challenge",
        "abc",
        "--difficulty",
        "300",
        "--json",
    ]));
    assert_eq!(
        (code, json["error"]["kind"].as_str()),
        (2, Some("invalid_input"))
    );
    let (code, json, _) = run(lime().args(["pow", "bench", "--seconds", "0.05", "--json"]));
    assert_eq!(code, 0);
    assert!(json["rates"]["1"].as_f64().unwrap() > 0.0);
    // Each process measures its own fastest path: a known name, not
    // necessarily the one this test process measured.
    let kernel = json["kernel"].as_str().unwrap();
    let kernels = json["kernels"].as_array().unwrap();
    let names: Vec<&str> = kernels
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&kernel), "{kernel} not in {names:?}");
    for name in ["portable", "avx512/16-lane", "avx2/8-lane", "sha-ni/sse4.1"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let chosen: Vec<&Value> = kernels.iter().filter(|k| k["chosen"] == true).collect();
    assert_eq!(chosen.len(), 1, "{kernels:?}");
    assert_eq!(chosen[0]["name"], kernel);
    assert!(chosen[0]["ticks_per_hash"].as_u64().unwrap() > 0);
    // The text names the chosen path and marks it among the others (this
    // process measures its own: the path may differ from the one above).
    let (code, _, text) = run(lime().args(["pow", "bench", "--seconds", "0.05"]));
    assert_eq!(code, 0);
    let named = text
        .lines()
        .find_map(|l| l.strip_prefix("search path: "))
        .unwrap_or_else(|| panic!("no search path line: {text}"));
    let marked: Vec<&str> = text.lines().filter(|l| l.ends_with("(chosen)")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with(named), "{text}");
}

fn error_of(json: &Value) -> (&str, Option<&str>) {
    let e = &json["error"];
    for key in ["kind", "code", "message", "http_status"] {
        assert!(e.get(key).is_some(), "missing {key} in {json}");
    }
    (e["kind"].as_str().unwrap(), e["code"].as_str())
}

#[test]
fn each_exit_code_is_provoked_for_real() {
    let server = Server::start(8, &["--fail", "read:429:100"]);
    // 2: a bad request id, refused before any request.
    let (code, json, _) = run(server.agent().args(["login", "../etc", "--json"]));
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"));
    // 2: plain HTTP off loopback without the opt-in.
    let (code, json, _) = run(server.agent().args([
        "login",
        "lr_x",
        "--json",
        "--base-url",
        "http://lime.example/api/v1",
    ]));
    assert_eq!((code, error_of(&json).0), (2, "config"));
    // 2: an unreadable token file.
    let (code, json, _) =
        run(server
            .agent()
            .args(["profile", "--json", "--token-file", "/no/such/file"]));
    assert_eq!((code, error_of(&json).0), (2, "config"));
    // 3: no token at all, with a message naming where one comes from.
    let (code, json, _) = run(lime()
        .env("LIME_API_BASE", &server.base_url)
        .args(["profile", "--json"]));
    assert_eq!((code, error_of(&json).0), (3, "authentication"));
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("LIME_AGENT_TOKEN") && message.contains("--token-file"),
        "{message}"
    );
    // 3: a wrong token (through --token-stdin, which wins over the environment).
    let mut child = server
        .agent()
        .args(["profile", "--json", "--token-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"at_wrong-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), error_of(&json)),
        (Some(3), ("authentication", Some("INVALID_AGENT_TOKEN")))
    );
    // 6: 429 on every read, after the retries.
    let id = server.create();
    let (code, json, _) = run(server
        .agent()
        .args(["login", &id, "--json", "--max-retries", "1"]));
    assert_eq!(
        (code, error_of(&json)),
        (6, ("rate_limited", Some("RATE_LIMIT_EXCEEDED")))
    );
    drop(server);

    let server = Server::start(64, &[]);
    // 5: the proof of work not solved in time.
    let id = server.create();
    let (code, json, _) =
        run(server
            .agent()
            .args(["login", &id, "--json", "--pow-timeout", "0.2"]));
    assert_eq!((code, error_of(&json).0), (5, "pow_timeout"));
    drop(server);

    // 4: another agent's approval, and an unknown request. (This agent's
    // own approval is success: running a login again is safe.)
    let taken = r#"{"ok":true,"data":{"request_id":"lr_x","site_id":"s","status":"APPROVED","expires_at":"2026-11-29T12:00:00Z","approved_agent_id":"agent_someone_else","pow_challenge":"c","pow_difficulty":8}}"#;
    let server = Server::start(8, &["--raw", &format!("read:200:1:{taken}")]);
    let id = server.create();
    let (code, json, _) = run(server.agent().args(["login", &id, "--json"]));
    assert_eq!(
        (code, error_of(&json)),
        (4, ("conflict", Some("SITE_LOGIN_CONFLICT")))
    );
    let (code, _, _) = run(server.agent().args(["login", &id]));
    assert_eq!(code, 0);
    let (code, _, _) = run(server.agent().args(["login", &id]));
    assert_eq!(code, 0, "this agent's own approval, again");
    let (code, json, _) = run(server.agent().args(["login", "lr_unknown", "--json"]));
    assert_eq!(
        (code, error_of(&json)),
        (4, ("api", Some("LOGIN_REQUEST_NOT_FOUND")))
    );
    // 7: the emulator stopped.
    let base = server.base_url.clone();
    let token = server.agent_token.clone();
    assert_eq!(server.stop(), 0);
    let (code, json, _) = run(lime()
        .env("LIME_API_BASE", &base)
        .env("LIME_AGENT_TOKEN", &token)
        .args(["login", "lr_x", "--json", "--max-retries", "0"]));
    assert_eq!((code, error_of(&json).0), (7, "transport"));
}

#[test]
fn no_secret_appears_in_any_output_at_maximum_verbosity() {
    let server = Server::start(8, &["--fail", "approve:503:1", "--ambiguous-approve", "1"]);
    let id = server.create();
    let challenge =
        http_get(&server.base_url, &format!("/auth/requests/{id}"))["data"]["pow_challenge"]
            .as_str()
            .unwrap()
            .to_owned();
    let (code, _, all) = run(server.agent().args(["login", &id, "-vv"]));
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("retrying"),
        "the run logged its retries: {all}"
    );
    let (_, _, profile) = run(server.agent().args(["profile", "-vv"]));
    let (_, _, failed) = run(lime()
        .env("LIME_API_BASE", &server.base_url)
        .env("LIME_AGENT_TOKEN", "at_a-secret-that-is-wrong")
        .args(["login", &server.create(), "-vv"]));
    for text in [&all, &profile] {
        assert!(!text.contains(&server.agent_token), "token leaked");
        assert!(!text.contains(&challenge), "challenge leaked");
    }
    assert!(
        !failed.contains("a-secret-that-is-wrong"),
        "token leaked: {failed}"
    );
}

#[test]
fn serve_scripts_raw_responses_and_the_agent_reports_them_typed() {
    let body_file = std::env::temp_dir().join(format!("lime-raw-{}.json", std::process::id()));
    std::fs::write(&body_file, br#"{"ok": true, "data": {"agent_id": 7}}"#).unwrap();
    let from_file = format!("profile:200:1:@{}", body_file.display());
    let server = Server::start(
        8,
        &[
            "--raw",
            &from_file,
            "--raw",
            "profile:200:10:[1, 2, {\"ok\": true}]",
            "--raw",
            "read:200:10:huge:3000000",
            "--fail",
            "approve:503:1:0",
        ],
    );
    // A profile whose agent_id is a number, then a JSON array where the
    // envelope should be: both are typed errors, not panics or hangs.
    let (code, json, all) = run(server
        .agent()
        .args(["profile", "--json", "--max-retries", "0"]));
    assert_eq!((code, error_of(&json).0), (7, "invalid_response"), "{all}");
    let (code, json, all) = run(server
        .agent()
        .args(["profile", "--json", "--max-retries", "0"]));
    assert_eq!((code, error_of(&json).0), (7, "invalid_response"), "{all}");
    // A 3 MB body where the request should be: refused while reading.
    let id = server.create();
    let (code, json, all) = run(server.agent().args(["login", &id, "--json"]));
    assert_eq!(code, 7, "{all}");
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("limit"), "{all}");
    std::fs::remove_file(&body_file).unwrap();
    // --fail with a Retry-After: the header goes out with the status.
    let server = Server::start(8, &["--fail", "read:503:1:7"]);
    let response = http_get_raw(&server.base_url, "/auth/requests/lr_x");
    let response = response.to_ascii_lowercase();
    assert!(response.starts_with("http/1.0 503"), "{response}");
    assert!(response.contains("retry-after: 7\r\n"), "{response}");
    // Bad specs are refused with exit code 2 before serving.
    for bad in [
        "read:200",
        "nowhere:200:1:{}",
        "read:abc:1:{}",
        "read:200:1:@/no/such/file",
    ] {
        let (code, _, all) = run(lime().args(["serve", "--json", "--raw", bad]));
        assert_eq!(code, 2, "--raw {bad}: {all}");
    }
}

#[test]
fn durations_past_the_maximum_negative_or_not_finite_exit_2() {
    for value in ["1e19", "-5", "NaN", "inf", "1000000001"] {
        for args in [
            vec!["login", "lr_abc", "--timeout", value],
            vec![
                "pow",
                "solve",
                "--challenge",
                "c",
                "--difficulty",
                "8",
                "--timeout",
                value,
            ],
            vec!["serve", "--ttl", value],
            vec!["site", "wait", "lr_abc", "--timeout", value],
        ] {
            let (code, _, out) = run(lime().args(&args).env("LIME_AGENT_TOKEN", "at_x"));
            assert_eq!(code, 2, "{args:?}: {out}");
            assert!(!out.contains("panicked"), "{args:?}: {out}");
        }
    }
}

#[test]
fn the_library_takes_huge_durations_without_panicking() {
    let server = Server::start(6, &["--ttl", "1000000000"]);
    let (code, json, _) = run(server.site().args(["site", "create", "--json"]));
    assert_eq!(code, 0);
    let id = json["request_id"].as_str().unwrap().to_owned();
    let (code, json, out) = run(server.agent().args([
        "login",
        &id,
        "--json",
        "--timeout",
        "1000000000",
        "--pow-timeout",
        "1000000000",
    ]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["status"], "APPROVED");
    let (code, json, out) = run(lime().args([
        "pow",
        "solve",
        "--json",
        "--challenge",
        "c",
        "--difficulty",
        "8",
        "--timeout",
        "1e9",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(json["nonce"].is_string());
}

#[test]
fn challenges_and_nonces_may_start_with_a_hyphen() {
    let (code, json, out) = run(lime().args([
        "pow",
        "solve",
        "--json",
        "--challenge",
        "-5ab",
        "--difficulty",
        "8",
    ]));
    assert_eq!(code, 0, "{out}");
    let nonce = json["nonce"].as_str().unwrap().to_owned();
    let (code, _, out) = run(lime().args([
        "pow",
        "verify",
        "--challenge",
        "-5ab",
        "--nonce",
        &nonce,
        "--difficulty",
        "8",
    ]));
    assert_eq!(code, 0, "{out}");
    let (code, _, _) = run(lime().args([
        "pow",
        "verify",
        "--challenge",
        "-5ab",
        "--nonce",
        "-1",
        "--difficulty",
        "8",
    ]));
    assert_eq!(code, 1, "a hyphen nonce is read and found not valid");
}

#[test]
fn ctrl_c_stops_a_pow_solve_within_a_second_with_exit_130() {
    let mut child = lime()
        .args(["pow", "solve", "--challenge", "c", "--difficulty", "200"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let sent = std::time::Instant::now();
    // Bounded wait: a solve that ignores the signal would run forever.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            panic!("lime pow solve was still running 10 s after Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let stopped_in = sent.elapsed();
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    eprintln!("pow solve stopped {stopped_in:?} after SIGINT");
    assert!(
        stopped_in < std::time::Duration::from_secs(2),
        "stopped only after {stopped_in:?}"
    );
}

#[test]
fn a_panic_prints_one_line_and_exits_70() {
    let (code, _, out) = run(lime().arg("--version").env("LIME_CLI_TEST_PANIC", "1"));
    assert_eq!(code, 70, "{out}");
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    assert!(out.starts_with("internal error: panic requested"), "{out}");
    assert!(out.contains("please report"), "{out}");
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    let body = "{\"ok\":false,\"error\":{\"code\":\"EVIL\\u001b]0;pwned\\u0007\",\"message\":\"\\u001b[2K\\rlogin lr_x confirmed\\u009b\\nfake line\"}}";
    let server = Server::start(6, &["--raw", &format!("profile:400:1:{body}")]);
    let (code, _, out) = run(server.agent().arg("profile"));
    assert_eq!(code, 4, "{out}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{9b}') && !out.contains('\r'),
        "{out:?}"
    );
    assert!(out.contains("\\x1b[2K"), "{out:?}");
    assert_eq!(
        out.trim().lines().count(),
        1,
        "a server message faked a line: {out:?}"
    );
}

#[test]
fn base_url_errors_redact_user_info_and_queries() {
    for url in [
        "http://user:s3cretpw@lime.example/api/v1",
        "https://lime.example/api/v1?token=s3cretpw",
    ] {
        let (code, _, out) = run(lime()
            .args(["profile", "--base-url", url])
            .env("LIME_AGENT_TOKEN", "at_x"));
        assert_eq!(code, 2, "{out}");
        assert!(!out.contains("s3cretpw"), "{out}");
    }
}

#[test]
fn token_files_are_capped_and_warned_about_when_others_can_read_them() {
    use std::os::unix::fs::PermissionsExt;
    let (code, _, out) = run(lime().args(["profile", "--token-file", "/dev/zero"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("over 65536 bytes"), "{out}");
    let dir = std::env::temp_dir().join(format!("lime-cli-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    std::fs::write(&path, "at_example-token\n").unwrap();
    // What `lime profile` says about the file (the request itself fails:
    // nothing listens on port 9).
    let output_with_mode = |mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        run(lime().args([
            "profile",
            "--base-url",
            "http://127.0.0.1:9/api/v1",
            "--max-retries",
            "0",
            "--token-file",
            path.to_str().unwrap(),
        ]))
        .2
    };
    let out = output_with_mode(0o644);
    assert!(out.contains("can be read by other users"), "{out}");
    let out = output_with_mode(0o600);
    assert!(!out.contains("can be read by other users"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_blank_tokens_and_reads_token_files() {
    for token in ["", "  ", "a b"] {
        let (code, _, out) = run(lime().args(["serve", "--agent-token", token]));
        assert_eq!(code, 2, "{token:?}: {out}");
        let (code, _, out) = run(lime().args(["serve", "--site-token", token]));
        assert_eq!(code, 2, "{token:?}: {out}");
    }
    let dir = std::env::temp_dir().join(format!("lime-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("agent-token");
    std::fs::write(&file, "at_from-a-file-0123456789\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let server = Server::start(6, &["--agent-token-file", file.to_str().unwrap()]);
    assert_eq!(server.agent_token, "at_from-a-file-0123456789");
    let (code, json, out) = run(server.agent().args(["profile", "--json"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["agent_id"], "agent_local");
    // --ca-out never replaces a file that exists.
    let existing = dir.join("ca.pem");
    std::fs::write(&existing, "mine").unwrap();
    let (code, _, out) =
        run(lime().args(["serve", "--tls", "--ca-out", existing.to_str().unwrap()]));
    assert_eq!(code, 2, "{out}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn site_commands_are_bounded_against_a_stalled_server() {
    let server = Server::start(6, &["--delay", "create:20000"]);
    let started = std::time::Instant::now();
    let (code, json, out) =
        run(server
            .site()
            .args(["site", "create", "--json", "--timeout", "0.5"]));
    assert_eq!((code, error_of(&json).0), (7, "transport"), "{out}");
    // An unknown id is answered by the public read, without waiting.
    let (code, json, out) =
        run(server
            .site()
            .args(["site", "wait", "lr_never", "--json", "--timeout", "60"]));
    assert_eq!((code, error_of(&json).0), (4, "api"), "{out}");
    assert!(out.contains("LOGIN_REQUEST_NOT_FOUND"), "{out}");
    let server = Server::start(6, &["--delay", "events:20000"]);
    let id = server.create();
    let (code, json, out) =
        run(server
            .site()
            .args(["site", "wait", &id, "--json", "--timeout", "0.5"]));
    assert_eq!((code, error_of(&json).0), (8, "no_event"), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a site command waited out the server's 20 s stall"
    );
}

#[test]
fn site_commands_refuse_plain_http_off_loopback_without_opt_in() {
    let (code, json, out) = run(lime()
        .args([
            "site",
            "create",
            "--json",
            "--base-url",
            "http://lime.example/api/v1",
        ])
        .env("LIME_SITE_TOKEN", "st_x"));
    assert_eq!((code, error_of(&json).0), (2, "config"), "{out}");
    assert!(out.contains("--allow-http"), "{out}");
    // Opted in, it gets as far as the network (none here: exit 7).
    let (code, _, out) = run(lime()
        .args([
            "site",
            "create",
            "--json",
            "--allow-http",
            "--timeout",
            "2",
            "--base-url",
            "http://lime.invalid/api/v1",
        ])
        .env("LIME_SITE_TOKEN", "st_x"));
    assert_eq!(code, 7, "{out}");
}

#[test]
fn serve_caps_connections_and_times_out_half_sent_headers() {
    let server = Server::start(6, &["--max-connections", "1", "--client-timeout", "0.3"]);
    let host = server
        .base_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut held = std::net::TcpStream::connect(&host).unwrap();
    held.write_all(b"GET /api/v1/core/.well-known/jwks.json HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut over = std::net::TcpStream::connect(&host).unwrap();
    over.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        over.read(&mut buf).unwrap(),
        0,
        "a connection over the cap was served"
    );
    held.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = held.read_to_end(&mut rest);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "half-sent headers kept the connection open"
    );
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = lime()
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // the reader is dropped here: the pipe closes
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(first.starts_with("lime demo"), "{first}");
    assert_eq!(status.code(), Some(141), "{stderr}");
    assert!(
        !stderr.contains("internal error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn pow_defaults_to_v1_and_verify_refuses_impossible_difficulties() {
    let (code, json, out) = run(lime().args([
        "pow",
        "solve",
        "--json",
        "--challenge",
        "c0ffee",
        "--difficulty",
        "10",
    ]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["scheme"], "v1");
    let nonce = json["nonce"].as_str().unwrap();
    assert!(lime_core::lime_pow::verify(
        lime_core::lime_pow::Scheme::V1,
        "c0ffee",
        nonce,
        10
    ));
    let (code, json, _) = run(lime().args([
        "pow",
        "verify",
        "--json",
        "--challenge",
        "c",
        "--nonce",
        "1",
        "--difficulty",
        "300",
    ]));
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"));
}

#[test]
fn serve_on_every_address_advertises_loopback() {
    let server = Server::start(6, &["--bind", "0.0.0.0"]);
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.base_url
    );
    let (code, _, out) = run(server.agent().args(["profile"]));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn argument_errors_are_json_too_when_json_is_asked_for() {
    for args in [
        vec!["login", "--json"],
        vec!["--json", "no-such-command"],
        vec![
            "pow",
            "verify",
            "--challenge",
            "c",
            "--difficulty",
            "1",
            "--nonce",
            "1",
            "--scheme",
            "md5",
            "--json",
        ],
        vec!["demo", "--difficulty", "257", "--json"],
        vec![
            "pow",
            "solve",
            "--challenge",
            "c",
            "--difficulty",
            "300",
            "--json",
        ],
    ] {
        let (code, json, out) = run(lime().args(&args));
        assert_eq!(
            (code, error_of(&json).0),
            (2, "invalid_input"),
            "{args:?}: {out}"
        );
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{out}"
        );
    }
    // The value list is offered, from the same definitions.
    let (_, json, _) = run(lime().args([
        "pow",
        "solve",
        "--challenge",
        "c",
        "--difficulty",
        "1",
        "--scheme",
        "md5",
        "--json",
    ]));
    assert!(
        json["error"]["message"].as_str().unwrap().contains("md5"),
        "{json}"
    );
    let (code, _, out) = run(lime().args(["pow", "solve", "--scheme", "md5"]));
    assert_eq!(code, 2);
    assert!(
        out.contains("legacy") && out.contains("v1"),
        "clap lists the values: {out}"
    );
    // Help is still help.
    let (code, _, out) = run(lime().args(["--json", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
    // `profile` takes no proof-of-work flags.
    let (code, _, _) = run(lime().args(["profile", "--scheme", "v1"]));
    assert_eq!(code, 2);
}

#[test]
fn retries_show_one_line_each_without_verbose() {
    let server = Server::start(8, &["--fail", "read:503:2:0"]);
    let id = server.create();
    let (code, _, out) = run(server.agent().args(["login", &id]));
    assert_eq!(code, 0, "{out}");
    let retries: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("lime: retrying"))
        .collect();
    assert_eq!(retries.len(), 2, "{out}");
    assert!(
        retries[0].starts_with("lime: retrying (2/4) in 0.0 s: HTTP 503"),
        "{out}"
    );
    assert!(retries[1].starts_with("lime: retrying (3/4)"), "{out}");
    // Nothing else is logged without -v.
    assert!(!out.contains("DEBUG") && !out.contains("TRACE"), "{out}");
}

#[test]
fn verbose_levels_add_debug_then_trace_and_never_a_secret() {
    let server = Server::start(8, &[]);
    let id = server.create();
    let (code, _, debug) = run(server.agent().args(["-v", "login", &id]));
    assert_eq!(code, 0, "{debug}");
    assert!(
        debug.contains("DEBUG") && !debug.contains("TRACE"),
        "{debug}"
    );
    let id = server.create();
    let (code, _, trace) = run(server.agent().args(["-vv", "login", &id]));
    assert_eq!(code, 0, "{trace}");
    assert!(trace.contains("TRACE"), "{trace}");
    assert!(
        trace.contains("x-agent-token: <redacted>"),
        "headers, secrets redacted: {trace}"
    );
    assert!(
        trace.contains("answered in") && trace.contains("state="),
        "{trace}"
    );
    assert!(
        !trace.contains(&server.agent_token),
        "the token leaked at TRACE"
    );
    assert!(!trace.contains("\x1b["), "no colour into a pipe");
}

#[test]
fn colour_only_on_a_terminal_per_stream_and_never_with_no_color() {
    let bin = env!("CARGO_BIN_EXE_lime");
    let pty = |line: &str, no_color: bool| {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", line, "/dev/null"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("`script` from util-linux");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let dir = std::env::temp_dir().join(format!("lime-colour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("stderr.log");
    // stdout a terminal, stderr a file: the timeline is coloured, the log is not.
    let terminal = pty(
        &format!("{bin} -v demo --difficulty 8 2>{}", log.display()),
        false,
    );
    assert!(
        terminal.contains("\x1b[36m"),
        "the timeline on a terminal is coloured: {terminal}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "{logged}");
    assert!(
        !logged.contains('\x1b'),
        "colour written to a file: {logged}"
    );
    // NO_COLOR wins on a terminal.
    let plain = pty(&format!("{bin} demo --difficulty 8"), true);
    assert!(
        plain.contains("confirmed end to end") && !plain.contains('\x1b'),
        "{plain}"
    );
    // Piped, nothing is coloured, errors included.
    let (_, _, piped) = run(lime().args(["demo", "--difficulty", "8"]));
    assert!(!piped.contains('\x1b'), "{piped}");
    // --color always colours a pipe; --color never beats a terminal.
    let (_, _, forced) = run(lime().args(["--color", "always", "demo", "--difficulty", "8"]));
    assert!(forced.contains("\x1b[36m"), "{forced}");
    let never = pty(&format!("{bin} demo --difficulty 8 --color never"), false);
    assert!(
        never.contains("confirmed end to end") && !never.contains('\x1b'),
        "{never}"
    );
    let (_, _, error) = run(lime().args(["profile"]));
    assert!(
        error.contains("error: ") && !error.contains('\x1b'),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    for (shell, marker) in [
        ("bash", "_lime()"),
        ("zsh", "#compdef lime"),
        ("fish", "complete -c lime"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[lime]"),
    ] {
        let (code, _, out) = run(lime().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}");
        assert!(out.contains(marker), "{shell}: {out:.200}");
        assert!(
            out.contains("demo") && out.contains("serve"),
            "{shell} names the subcommands"
        );
    }
    let (code, _, man) = run(lime().args(["completions", "man"]));
    assert_eq!(code, 0);
    assert!(
        man.starts_with(".ie") || man.contains(".TH lime"),
        "{man:.200}"
    );
    assert!(man.contains("completions"), "the page lists every command");
    let (code, _, _) = run(lime().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
    // One page per command, for a package's man directory.
    let dir = std::env::temp_dir().join(format!("lime-man-{}", std::process::id()));
    let dir_arg = dir.to_str().unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let (code, _, out) = run(lime().args(["completions", "man", "--dir", dir_arg]));
    assert_eq!(code, 0, "{out}");
    for page in [
        "lime.1",
        "lime-login.1",
        "lime-mcp.1",
        "lime-site-wait.1",
        "lime-serve.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page} is a man page");
    }
    let login = std::fs::read_to_string(dir.join("lime-login.1")).unwrap();
    assert!(
        login.contains("pow\\-timeout"),
        "the login page lists its own flags"
    );
    let (code, _, _) = run(lime().args(["completions", "bash", "--dir", dir_arg]));
    assert_eq!(code, 2, "--dir is for man pages only");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_verbose_logs_each_request_without_a_token() {
    let mut child = lime()
        .args(["-v", "serve", "--json", "--difficulty", "6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let base = v["base_url"].as_str().unwrap();
    let agent_token = v["agent_token"].as_str().unwrap();
    let (code, _, out) = run(lime()
        .env("LIME_API_BASE", base)
        .env("LIME_AGENT_TOKEN", agent_token)
        .args(["profile"]));
    assert_eq!(code, 0, "{out}");
    terminate(&child);
    let mut logged = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    child.wait().unwrap();
    assert!(
        logged.contains("GET /api/v1/core/agents/me/profile 200"),
        "{logged}"
    );
    assert!(logged.contains(" ms"), "{logged}");
    assert!(!logged.contains(agent_token), "a token in the request log");
}

#[test]
fn site_speaks_https_with_the_ca_and_ipv6_and_validates_ids() {
    let dir = std::env::temp_dir().join(format!("lime-site-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let server = Server::start(6, &["--tls", "--ca-out", ca.to_str().unwrap()]);
    assert!(server.base_url.starts_with("https://"));
    let (code, json, out) = run(server.site().args([
        "site",
        "create",
        "--json",
        "--ca-cert",
        ca.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{out}");
    let id = json["request_id"].as_str().unwrap().to_owned();
    assert!(
        json["expires_at"].as_str().unwrap().contains('.'),
        "milliseconds: {json}"
    );
    // Without the CA: a TLS failure, never plain text, naming the URL and
    // how to trust the CA.
    let (code, _, out) = run(server.site().args(["site", "create", "--json"]));
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains("--ca-cert") && out.contains(&server.base_url),
        "{out}"
    );
    // The agent approves, the site sees it over HTTPS.
    let (code, _, out) =
        run(server
            .agent()
            .args(["login", &id, "--ca-cert", ca.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    let (code, json, out) = run(server.site().args([
        "site",
        "wait",
        &id,
        "--json",
        "--timeout",
        "10",
        "--ca-cert",
        ca.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["passport"]["agent_id"], "agent_emulated");
    assert!(
        json["passport"]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with("+00:00"),
        "{json}"
    );
    // A malformed id is refused before any request (exit 2).
    let (code, json, _) = run(server.site().args(["site", "wait", "../x", "--json"]));
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    // IPv6 loopback, plain HTTP.
    let server = Server::start(6, &["--bind", "::1"]);
    assert!(
        server.base_url.starts_with("http://[::1]:"),
        "{}",
        server.base_url
    );
    let (code, _, out) = run(server.site().args(["-v", "site", "create"]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("site client ready"),
        "-v logs the site's steps: {out}"
    );
}

#[test]
fn a_site_answer_that_is_not_json_is_an_invalid_response() {
    let server = Server::start(6, &["--raw", "create:200:1:<html>oops</html>"]);
    let (code, json, out) = run(server.site().args(["site", "create", "--json"]));
    assert_eq!((code, error_of(&json).0), (7, "invalid_response"), "{out}");
}

#[test]
fn site_wait_without_an_event_has_its_own_exit_code() {
    let server = Server::start(6, &[]);
    let id = server.create();
    let (code, json, out) =
        run(server
            .site()
            .args(["site", "wait", &id, "--json", "--timeout", "0.5"]));
    assert_eq!((code, error_of(&json).0), (8, "no_event"), "{out}");
}

#[test]
fn a_replayed_approval_older_than_its_passport_is_approved_earlier() {
    use lime_emulator::{Emulator, ManualClock};
    // The emulator's clock ten minutes behind: every passport it signs has
    // long expired by the time the site reads it.
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let emu = Emulator::builder()
        .difficulty(6)
        .clock(ManualClock::new(past))
        .start_blocking()
        .unwrap();
    let id = emu.create_request();
    let (code, _, out) = run(lime()
        .env("LIME_API_BASE", emu.base_url())
        .env("LIME_AGENT_TOKEN", emu.agent_token())
        .args(["login", &id]));
    assert_eq!(code, 0, "{out}");
    let (code, json, out) = run(lime()
        .env("LIME_API_BASE", emu.base_url())
        .env("LIME_SITE_TOKEN", emu.site_token())
        .args(["site", "wait", &id, "--json", "--timeout", "10"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["approved_earlier"], true, "{json}");
    assert_eq!(json["agent_id"], emu.agent_id());
    assert!(
        json["passport"].is_null(),
        "an expired passport is no proof: {json}"
    );
}

#[test]
fn a_base_url_without_api_v1_is_named_as_the_likely_mistake() {
    let server = Server::start(6, &[]);
    let root = server.base_url.trim_end_matches("/api/v1").to_owned();
    let (code, json, out) = run(server
        .agent()
        .env("LIME_API_BASE", &root)
        .args(["profile", "--json"]));
    assert_eq!(code, 4, "{out}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must end in /api/v1"),
        "{json}"
    );
}

#[test]
fn mcp_token_prints_the_token_alone_and_json_with_its_fields() {
    let server = Server::start(4, &["--mcp-token-ttl", "90", "--fail", "oauth:503:1:0"]);
    let out = server
        .agent()
        .args(["-vv", "mcp", "token", "mcp.example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "the token alone: {stdout}");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    assert!(stderr.contains("retrying (2/4)"), "{stderr}");
    assert!(
        !stderr.contains(token) && !stderr.contains(token.rsplit('.').next().unwrap()),
        "the token in the logs"
    );
    let (code, json, all) = run(server.agent().args([
        "mcp",
        "token",
        "https://mcp.example.com/mcp",
        "--json",
        "--force-refresh",
    ]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["domain"], "mcp.example.com");
    assert_eq!(json["expires_in"], 90);
    assert!(
        json["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("bearer")
    );
    assert_eq!(json["access_token"].as_str().unwrap().split('.').count(), 3);
    assert_ne!(
        json["access_token"].as_str().unwrap(),
        token,
        "a fresh process mints anew"
    );
}

#[test]
fn mcp_token_failures_exit_with_their_kinds() {
    let server = Server::start(4, &["--no-mcp-grant"]);
    let (code, json, out) = run(server
        .agent()
        .args(["mcp", "token", "mcp.example.com", "--json"]));
    assert_eq!((code, error_of(&json).0), (3, "oauth_capability"), "{out}");
    for refused in ["127.0.0.1", "printer.local", "http://mcp.example.com"] {
        let (code, json, out) = run(server.agent().args(["mcp", "token", refused, "--json"]));
        assert_eq!(
            (code, error_of(&json).0),
            (2, "invalid_input"),
            "{refused}: {out}"
        );
    }
    let hostile = Server::start(
        4,
        &[
            "--raw",
            r#"oauth:200:1:{"access_token":"x","token_type":"Bearer","expires_in":60}"#,
        ],
    );
    let (code, json, out) =
        run(hostile
            .agent()
            .args(["mcp", "token", "mcp.example.com", "--json"]));
    assert_eq!((code, error_of(&json).0), (7, "invalid_response"), "{out}");
    assert_eq!(json["error"]["code"], "INVALID_TOKEN_RESPONSE", "{json}");
}

/// `lime serve --tls --mcp-domain`, with what an MCP client needs.
struct McpServer {
    server: Server,
    ca: String,
    url: String,
    resolve: String,
}

fn mcp_server(extra: &[&str]) -> McpServer {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lime-mcp-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem").display().to_string();
    let mut args = vec!["--tls", "--ca-out", &ca, "--mcp-domain", "mcp.lime.test"];
    args.extend_from_slice(extra);
    let server = Server::start(4, &args);
    let url = server.info["mcp_url"].as_str().unwrap().to_owned();
    let port = server.info["mcp_addr"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    McpServer {
        server,
        ca,
        resolve: format!("mcp.lime.test:{port}:127.0.0.1"),
        url,
    }
}

impl McpServer {
    fn mcp(&self, args: &[&str]) -> (i32, Value, String) {
        let mut cmd = self.server.agent();
        cmd.args(["mcp"])
            .args(args)
            .args(["--resolve", &self.resolve, "--ca-cert", &self.ca]);
        run(&mut cmd)
    }
}

#[test]
fn mcp_commands_list_call_read_and_prompt_over_https() {
    let s = mcp_server(&[]);
    assert!(s.url.starts_with("https://mcp.lime.test:"), "{}", s.url);
    let (code, json, out) = s.mcp(&["tools", &s.url, "--json"]);
    assert_eq!(code, 0, "{out}");
    let names: Vec<&str> = json["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"whoami") && names.contains(&"echo"),
        "{json}"
    );
    let (code, _, text) = s.mcp(&["tools", &s.url]);
    assert_eq!(code, 0);
    assert!(
        text.contains("echo") && text.contains("Returns its text"),
        "{text}"
    );
    // --arg values: JSON when they parse, else strings.
    let (code, json, out) = s.mcp(&[
        "call", &s.url, "add", "--arg", "a=2", "--arg", "b=40", "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["content"][0]["text"], "42", "{json}");
    let (code, _, text) = s.mcp(&["call", &s.url, "echo", "--arg", "text=hello there"]);
    assert_eq!((code, text.trim()), (0, "hello there"));
    let (code, _, text) = s.mcp(&["call", &s.url, "echo", "--args", r#"{"text":"from json"}"#]);
    assert_eq!((code, text.trim()), (0, "from json"));
    let (code, _, text) = s.mcp(&["call", &s.url, "whoami"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("agent_emulated") && text.contains("mcp.lime.test"),
        "{text}"
    );
    // A tool that reports an error exits 1.
    let (code, json, _) = s.mcp(&["call", &s.url, "add", "--arg", "a=x", "--json"]);
    assert_eq!((code, &json["isError"]), (1, &Value::Bool(true)), "{json}");
    // A JSON-RPC error exits 4, kind mcp, its code kept.
    let (code, json, out) = s.mcp(&["call", &s.url, "nope", "--json"]);
    assert_eq!((code, error_of(&json).0), (4, "mcp"), "{out}");
    assert!(
        error_of(&json).1.is_some_and(|c| c.starts_with('-')),
        "{json}"
    );
    let (code, json, _) = s.mcp(&["resources", &s.url, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["resources"][0]["uri"], "lime://emulator/readme");
    assert_eq!(
        json["resourceTemplates"][0]["uriTemplate"],
        "lime://greeting/{name}"
    );
    let (code, _, text) = s.mcp(&["read", &s.url, "lime://greeting/ada"]);
    assert_eq!((code, text.trim()), (0, "Hello, ada!"));
    let (code, json, _) = s.mcp(&["prompts", &s.url, "--json"]);
    assert_eq!(
        (code, &json["prompts"][0]["name"]),
        (0, &Value::from("greet"))
    );
    let (code, _, text) = s.mcp(&["prompt", &s.url, "greet", "--arg", "name=Ada"]);
    assert_eq!(code, 0);
    assert!(text.contains("user: Please greet Ada."), "{text}");
    let (code, _, text) = s.mcp(&["ping", &s.url]);
    assert_eq!((code, text.trim()), (0, "pong"));
    // Refused targets exit 2 before any request.
    let (code, json, _) = s.mcp(&["tools", "127.0.0.1", "--json"]);
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"));
    // No CA: a TLS failure, 7.
    let (code, json, _) =
        run(s
            .server
            .agent()
            .args(["mcp", "ping", &s.url, "--resolve", &s.resolve, "--json"]));
    assert_eq!((code, error_of(&json).0), (7, "transport"));
}

#[test]
fn mcp_timeout_bounds_each_exchange_and_deadline_the_whole_command() {
    let s = mcp_server(&[]);
    // The tool would answer after 3 s: --timeout 1 cuts the exchange, and
    // --deadline 0.5 the whole command.
    for (flag, seconds, says) in [
        ("--timeout", "1", "did not finish within 1 s"),
        ("--deadline", "0.5", "--deadline of 0.5 s"),
    ] {
        let (code, json, out) = s.mcp(&[
            "call", &s.url, "slow", "--arg", "ms=3000", flag, seconds, "--json",
        ]);
        assert_eq!((code, error_of(&json).0), (7, "transport"), "{out}");
        assert!(out.contains(says), "{out}");
    }
}

#[test]
fn mcp_names_addresses_and_ports_are_checked_before_any_token_is_sent() {
    let s = mcp_server(&[]);
    let port = s
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .to_owned();
    // A single-label name, even with the plain-http opt-in: refused by name.
    let vm = format!("http://vm:{port}/mcp");
    let (code, json, out) = s.mcp(&["tools", &vm, "--mcp-allow-http", "--json"]);
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"), "{out}");
    assert!(out.contains("fully qualified"), "{out}");
    // --allow-http is the API's: a plain-http MCP URL needs its own opt-in.
    let plain = format!("http://mcp.lime.test:{port}/mcp");
    let (code, json, out) = s.mcp(&["tools", &plain, "--allow-http", "--json"]);
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"), "{out}");
    assert!(
        out.contains("allow_http") || out.contains("http://"),
        "{out}"
    );
    // --resolve for the target's host on another port is refused, as a
    // mistake, not applied to the wrong port.
    let (code, json, out) = run(s.server.agent().args([
        "mcp",
        "tools",
        &s.url,
        "--ca-cert",
        &s.ca,
        "--resolve",
        "mcp.lime.test:1:127.0.0.1",
        "--json",
    ]));
    assert_eq!((code, error_of(&json).0), (2, "invalid_input"), "{out}");
    assert!(out.contains("port 1"), "{out}");
}

#[test]
fn mcp_refused_tokens_exit_3_with_mcp_auth() {
    let s = mcp_server(&["--fail", "mcp:401:100"]);
    let (code, json, out) = s.mcp(&["tools", &s.url, "--json"]);
    assert_eq!((code, error_of(&json).0), (3, "mcp_auth"), "{out}");
    assert_eq!(error_of(&json).1, Some("MCP_AUTH_FAILED"));
}

#[test]
fn zero_budgets_and_an_empty_token_on_stdin_are_refused_as_invalid_input() {
    for args in [
        vec![
            "pow",
            "solve",
            "--challenge",
            "abc",
            "--difficulty",
            "4",
            "--timeout",
            "0",
        ],
        vec!["login", "lr_x", "--pow-timeout", "0"],
        vec!["pow", "bench", "--seconds", "0"],
    ] {
        let (code, _, out) = run(lime().args(&args));
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.contains("zero"), "{args:?}: {out}");
    }
    let mut profile = lime()
        .args(["profile", "--token-stdin", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(profile.stdin.take()); // `echo -n |`: nothing, then end of input
    let output = profile.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("standard input") || out.contains("stdin"),
        "{out}"
    );
    assert!(out.contains("empty"), "{out}");
}

#[test]
fn the_readmes_exit_codes_are_the_ones_lime_help_makes_from_its_kinds() {
    let (code, _, help) = run(lime().args(["--help"]));
    assert_eq!(code, 0);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let rows: Vec<(String, Vec<String>)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code: u16 = cells.get(1)?.parse().ok()?;
            let kinds = cells
                .get(2)?
                .split(", ")
                .map(|k| k.trim_matches('`').to_owned())
                .filter(|k| k != "—")
                .collect();
            Some((code.to_string(), kinds))
        })
        .collect();
    assert!(rows.len() >= 12, "the README's exit table: {rows:?}");
    for (code, kinds) in rows {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("exit {code} is missing from lime --help"));
        let listed = line.trim_start()[code.len()..].trim_start();
        if kinds.is_empty() {
            assert!(!listed.contains("_:"), "exit {code}: {line}");
        } else {
            assert!(
                listed.starts_with(&format!("{}:", kinds.join(", "))),
                "exit {code}: README {kinds:?}, help {line:?}"
            );
        }
    }
}

#[test]
fn server_text_never_reaches_the_terminal_as_control_sequences() {
    // A hostile read: an OSC title sequence, a colour and a bidi override in
    // the server's strings.
    let body = r#"{"ok":true,"data":{"request_id":"lr_x\u001b]0;pwned\u0007\u202e","site_id":"site\u001b[31m\u2066","status":"APPROVED","expires_at":"2026-12-04T12:00:00Z","approved_agent_id":"agent\u001b[2J\u202d"}}"#;
    let raw = format!("read:200:5:{body}");
    let server = Server::start(4, &["--raw", &raw]);
    for verbosity in [None, Some("-v"), Some("-vv")] {
        let mut cmd = server.agent();
        if let Some(flag) = verbosity {
            cmd.arg(flag);
        }
        let (_, _, out) = run(cmd.args(["login", "lr_x"]));
        assert!(
            !out.contains('\u{1b}'),
            "{verbosity:?}: a raw escape: {out:?}"
        );
        for bidi in ['\u{202e}', '\u{2066}', '\u{202d}'] {
            assert!(
                !out.contains(bidi),
                "{verbosity:?}: a raw bidi control: {out:?}"
            );
        }
    }
}

#[test]
fn a_closed_pipe_ends_the_man_page_quietly_and_json_argument_errors_say_what_is_wrong() {
    let mut man = lime()
        .args(["completions", "man"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(man.stdout.take()); // the reader went away (`| head -1`)
    let output = man.wait_with_output().unwrap();
    assert!(matches!(output.status.code(), Some(0 | 141)), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (args, says) in [
        (vec!["--json", "mcp"], "subcommand"),
        (vec!["--json", "login"], "<REQUEST_ID>"),
        (
            vec!["--json", "pow", "solve", "--scheme", "md5"],
            "possible values",
        ),
    ] {
        let (code, json, out) = run(lime().args(&args));
        assert_eq!(
            (code, error_of(&json).0),
            (2, "invalid_input"),
            "{args:?}: {out}"
        );
        assert!(
            json["error"]["message"].as_str().unwrap().contains(says),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn files_named_on_the_command_line_are_read_with_a_size_bound() {
    for args in [
        vec!["profile", "--ca-cert", "/dev/zero", "--json"],
        vec!["serve", "--signing-key", "/dev/zero", "--json"],
        vec!["serve", "--raw", "read:200:1:@/dev/zero", "--json"],
    ] {
        let (code, json, out) = run(lime().env("LIME_AGENT_TOKEN", "at_x").args(&args));
        assert_eq!((code, error_of(&json).0), (2, "config"), "{args:?}: {out}");
        assert!(out.contains("over 16 MiB"), "{args:?}: {out}");
    }
}

#[test]
fn a_panicking_handler_closes_its_connection_and_lime_serve_goes_on() {
    let mut child = lime()
        .args(["serve", "--json", "--difficulty", "4", "--panic", "read:1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let base = info["base_url"].as_str().unwrap().to_owned();
    let addr = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let get = || -> std::io::Result<String> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(&addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /api/v1/auth/requests/lr_x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    let first = get().unwrap_or_default();
    assert!(
        !first.contains("HTTP/1.1"),
        "the panicking handler answered: {first}"
    );
    let second = get().unwrap();
    assert!(
        second.starts_with("HTTP/1.1 404"),
        "the server went on: {second}"
    );
    assert!(child.try_wait().unwrap().is_none(), "lime serve exited");
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("handler panicked") && stderr.contains("connection was closed"),
        "{stderr}"
    );
}

#[test]
fn lime_version_names_the_build_and_where_the_token_comes_from_never_the_token() {
    let (code, json, out) = run(lime().env("LIME_AGENT_TOKEN", "at_version_secret").args([
        "--json",
        "version",
        "--base-url",
        "https://user:pw@lime.example/api/v1",
    ]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["tls_provider"], "aws-lc-rs");
    assert_eq!(json["token_from"], "LIME_AGENT_TOKEN");
    assert!(
        !out.contains("at_version_secret") && !out.contains("pw@"),
        "{out}"
    );
}

#[test]
fn serve_format_env_prints_export_lines_a_shell_can_source() {
    let mut child = lime()
        .args(["serve", "--format", "env", "--difficulty", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut exports = String::new();
    for _ in 0..3 {
        reader.read_line(&mut exports).unwrap();
    }
    assert!(
        exports.starts_with("export LIME_API_BASE='http://127.0.0.1:"),
        "{exports}"
    );
    assert!(exports.contains("export LIME_AGENT_TOKEN='"), "{exports}");
    assert!(exports.contains("export LIME_SITE_TOKEN='"), "{exports}");
    // A shell that sources them can run an agent command as is.
    let script = format!("{exports}\n{} profile --json", env!("CARGO_BIN_EXE_lime"));
    let out = Command::new("sh")
        .args(["-c", &script])
        .env_remove("LIME_API_BASE")
        .env_remove("LIME_AGENT_TOKEN")
        .output()
        .unwrap();
    let profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(profile["agent_id"], "agent_emulated", "{profile}");
    terminate(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
