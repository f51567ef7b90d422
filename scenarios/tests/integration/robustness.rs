//! No input makes the loader panic: truncated and mutated versions of real scenarios all give
//! either a scenario or a located error.

use drydock_scenarios::{ScenarioError, builtins, load_str};

/// A small deterministic generator (SplitMix64) for mutations.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn check(text: &str) {
    match load_str(text, "fuzz.yaml") {
        Ok(_) => {}
        Err(e @ (ScenarioError::Parse { .. } | ScenarioError::Invalid { .. })) => {
            assert!(!e.diagnostics().is_empty());
            for d in e.diagnostics() {
                assert!(d.line >= 1 && d.column >= 1, "unlocated diagnostic {d}");
            }
            let _ = e.to_string();
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn truncated_scenarios_never_panic() {
    for b in builtins() {
        let text = b.source;
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                check(&text[..cut]);
            }
            cut += 13;
        }
    }
}

#[test]
fn mutated_scenarios_never_panic() {
    const PIECES: [&str; 14] = [
        "-", ":", "{", "}", "[", "]", "\n", " ", "*a", "&a ", "~", "1e999", "\"", "é",
    ];
    let mut rng = Mix(7);
    for b in builtins() {
        let chars: Vec<char> = b.source.chars().collect();
        for _ in 0..150 {
            let mut s: Vec<char> = chars.clone();
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() % s.len() as u64) as usize;
                match rng.next() % 3 {
                    0 => {
                        s.remove(at);
                    }
                    1 => {
                        let piece = PIECES[(rng.next() % PIECES.len() as u64) as usize];
                        for (k, c) in piece.chars().enumerate() {
                            s.insert(at + k, c);
                        }
                    }
                    _ => s[at] = char::from(b'0' + (rng.next() % 10) as u8),
                }
            }
            check(&s.into_iter().collect::<String>());
        }
    }
}

#[test]
fn odd_documents_are_errors_not_panics() {
    for text in [
        "",
        "\n\n",
        "# only a comment\n",
        "---\n...\n",
        "- a\n- b\n",
        "just text",
        "apiVersion: drydock/v1alpha1\n---\nkind: Scenario\n",
        "a: &x [*x]\n",
        "apiVersion: *nope\n",
        "spec: {cluster: {pools: [{name: p, nodes: 99999999999999999999, cpu: 1, memory: 1}]}}",
        "spec: {seed: 18446744073709551616}",
        "spec: {duration: 99999999999999999999999999999d}",
        "spec: {cluster: {pools: [{name: p, nodes: 1, cpu: 1, memory: 99999999999999999999999Ei}]}}",
        "\u{feff}apiVersion: drydock/v1alpha1\n",
        "apiVersion: drydock/v1alpha1\r\nkind: Scenario\r\n",
        "spec:\n\tseed: 1\n",
    ] {
        check(text);
    }
}
