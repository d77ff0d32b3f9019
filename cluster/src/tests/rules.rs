//! The deterministic apply rules of `AppState`, without raft.

use crate::state::AppState;
use crate::types::{Command, KeyRecord, KeyState};

pub(crate) fn key(kid: &str) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        alg: "ES256".into(),
        public_jwk: serde_json::json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": "x", "y": "y"}),
        sealed_private_key: format!("c2VhbGVk-{kid}"),
        state: KeyState::Active,
        created_at: 0,
        activated_at: Some(1),
        retired_at: None,
    }
}

#[test]
fn add_key_ignores_given_state_and_orders_by_created_at() {
    let mut st = AppState::default();
    assert!(st.apply(&Command::AddKey {
        key: key("b"),
        at: 20
    }));
    assert!(st.apply(&Command::AddKey {
        key: key("a"),
        at: 10
    }));
    assert!(st.apply(&Command::AddKey {
        key: key("c"),
        at: 20
    }));
    assert!(
        !st.apply(&Command::AddKey {
            key: key("a"),
            at: 30
        }),
        "duplicate kid is a no-op"
    );
    let kids: Vec<_> = st.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["a", "b", "c"]);
    let a = &st.keys[0];
    assert_eq!(
        (a.state.clone(), a.created_at, a.activated_at),
        (KeyState::Published, 10, None)
    );
}

#[test]
fn activate_and_retire_follow_the_lifecycle() {
    let mut st = AppState::default();
    assert!(!st.apply(&Command::ActivateKey {
        kid: "nope".into(),
        at: 1
    }));
    st.apply(&Command::AddKey {
        key: key("k"),
        at: 1,
    });
    let before = st.keys.clone();
    assert!(st.apply(&Command::ActivateKey {
        kid: "k".into(),
        at: 2
    }));
    assert!(
        !st.apply(&Command::ActivateKey {
            kid: "k".into(),
            at: 3
        }),
        "already active"
    );
    assert_eq!(
        before[0].state,
        KeyState::Published,
        "readers' snapshot is not mutated"
    );
    assert!(st.apply(&Command::RetireKey {
        kid: "k".into(),
        at: 4
    }));
    assert!(!st.apply(&Command::RetireKey {
        kid: "k".into(),
        at: 5
    }));
    assert!(
        !st.apply(&Command::ActivateKey {
            kid: "k".into(),
            at: 6
        }),
        "retired keys stay retired"
    );
    let k = &st.keys[0];
    assert_eq!(
        (k.state.clone(), k.activated_at, k.retired_at),
        (KeyState::Retired, Some(2), Some(4))
    );
}

#[test]
fn revoke_keeps_the_longest_expiry_and_skips_expired_tokens() {
    let mut st = AppState::default();
    assert!(st.apply(&Command::Revoke {
        jti: "j".into(),
        expires_at: 100,
        at: 1
    }));
    assert!(!st.apply(&Command::Revoke {
        jti: "j".into(),
        expires_at: 50,
        at: 1
    }));
    assert!(st.apply(&Command::Revoke {
        jti: "j".into(),
        expires_at: 150,
        at: 1
    }));
    assert!(
        !st.apply(&Command::Revoke {
            jti: "old".into(),
            expires_at: 10,
            at: 10
        }),
        "already expired"
    );
    st.apply(&Command::Prune { at: 100 });
    assert!(st.revocations.contains("j"), "expiry was extended to 150");
    assert!(!st.revocations.contains("old"));
    assert_eq!(st.revocations.len(), 1);
    assert!(st.apply(&Command::Prune { at: 150 }));
    assert_eq!(st.revocations.len(), 0);
}

#[test]
fn apply_is_deterministic() {
    let cmds = [
        Command::AddKey {
            key: key("a"),
            at: 5,
        },
        Command::Revoke {
            jti: "x".into(),
            expires_at: 9,
            at: 5,
        },
        Command::ActivateKey {
            kid: "a".into(),
            at: 6,
        },
        Command::Revoke {
            jti: "y".into(),
            expires_at: 20,
            at: 7,
        },
        Command::RetireKey {
            kid: "a".into(),
            at: 10,
        },
    ];
    let run = || {
        let mut st = AppState::default();
        let applied: Vec<bool> = cmds.iter().map(|c| st.apply(c)).collect();
        (applied, st.keys.as_ref().clone(), st.revocations.to_map())
    };
    assert_eq!(run(), run());
    assert_eq!(run().2.keys().collect::<Vec<_>>(), ["y"]);
}

#[test]
fn debug_of_a_key_redacts_the_sealed_private_key() {
    let k = key("k");
    let shown = format!(
        "{k:?} {:?}",
        Command::AddKey {
            key: k.clone(),
            at: 1
        }
    );
    assert!(!shown.contains(&k.sealed_private_key));
    assert!(shown.contains("sealed"));
}
