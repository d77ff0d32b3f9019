//! The deploy files stay valid: HAProxy accepts its configuration, the image is multi-stage and
//! non-root, the systemd unit carries seed 000's hardening, and the fail2ban filter matches the
//! failed-login line the server writes. (No Docker engine here: `docker build` is not run.)

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn haproxy_accepts_the_deployed_configuration() {
    let out = Command::new("haproxy").args(["-c", "-f", &format!("{ROOT}/deploy/haproxy.cfg")]).output().expect("haproxy installed (.ci/services.sh)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let cfg = read("deploy/haproxy.cfg");
    for needle in ["balance roundrobin", "option httpchk GET /ready", "option forwardfor", "X-Forwarded-Proto", "option redispatch"] {
        assert!(cfg.contains(needle), "haproxy.cfg lacks {needle}");
    }
}

#[test]
fn the_image_is_multi_stage_and_runs_as_a_non_root_user() {
    let df = read("deploy/Dockerfile");
    assert!(df.lines().filter(|l| l.starts_with("FROM ")).count() >= 2, "multi-stage");
    let user = df.lines().rev().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains("root") && !user.trim_end().ends_with(" 0") && !user.contains(" 0:"), "{user}");
    let compose = read("deploy/docker-compose.yml");
    for service in ["postgres", "redis", "haproxy", "tessera"] {
        assert!(compose.contains(&format!("  {service}:")), "compose lacks {service}");
    }
    assert!(compose.contains("CLUSTER_JOIN"), "replicas join by themselves");
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit = read("deploy/tessera.service");
    for key in ["NoNewPrivileges=true", "PrivateTmp=true", "ProtectSystem=strict", "ProtectHome=true", "ReadWritePaths="] {
        assert!(unit.contains(key), "tessera.service lacks {key}");
    }
}

#[test]
fn the_fail2ban_filter_matches_the_failed_login_line() {
    let dir = format!("{ROOT}/deploy/fail2ban/filter.d");
    let filter = std::fs::read_dir(&dir).unwrap().flatten().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect::<String>();
    let line = filter.lines().find(|l| l.trim_start().starts_with("failregex")).expect("failregex");
    assert!(line.contains("invalid_credentials") && line.contains("remote_addr") && line.contains("<HOST>"), "{line}");
}
