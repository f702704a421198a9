//! `default_model_path` precedence with the `SQZ_MODEL` environment variable. Kept in its own test
//! binary because it changes the process environment.

use std::path::Path;
use weights::{default_model_path, shared_model_path, MODEL_ENV};

#[test]
fn explicit_then_env_then_shared() {
    let shared = shared_model_path();
    assert!(
        shared.is_file(),
        "shared model expected at {}",
        shared.display()
    );
    std::env::remove_var(MODEL_ENV);
    assert_eq!(default_model_path(None).unwrap(), shared);

    // The env var wins over the shared folder, and a dangling one is an error, not a fallback.
    let dir = std::env::temp_dir().join(format!("sqz-model-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let other = dir.join("other.net");
    std::fs::write(&other, b"x").unwrap();
    std::env::set_var(MODEL_ENV, &other);
    assert_eq!(default_model_path(None).unwrap(), other);
    // An explicit path wins over the env var.
    assert_eq!(default_model_path(Some(&shared)).unwrap(), shared);
    std::env::set_var(MODEL_ENV, dir.join("missing.net"));
    let e = default_model_path(None).unwrap_err().to_string();
    assert!(
        e.contains(MODEL_ENV)
            && e.contains("missing.net")
            && e.contains("songhan/SqueezeNet-Deep-Compression"),
        "{e}"
    );
    std::env::remove_var(MODEL_ENV);
    let e = default_model_path(Some(Path::new("/no/such.net")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/no/such.net"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
