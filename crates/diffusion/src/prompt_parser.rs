//! onnx-web's prompt language (§5), as pure functions that never panic:
//! - network tokens `<lora:NAME:WEIGHT>`, `<inversion|embeddings:NAME:WEIGHT>`, `<clip:skip:N>`;
//! - `<region:TOP:LEFT:BOTTOM:RIGHT:WEIGHT:FEATHER[_TLBR]:PROMPT>` and
//!   `<reseed:TOP:LEFT:BOTTOM:RIGHT:SEED>`;
//! - prompt stages split by `||` ([`slice_prompt`]);
//! - interval ranges `name-{a,b[,step]}` ([`expand_intervals`]);
//! - A1111 attention weighting `(text)`, `[text]`, `(text:1.5)` ([`parse_weighted`]), the syntax
//!   of onnx-web's `lpw` pipeline.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetworkKind {
    Lora,
    Inversion,
}

impl NetworkKind {
    /// The models sub-folder, and the `type` in `/api/settings/models`.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Lora => "lora",
            Self::Inversion => "inversion",
        }
    }
}

/// A `<lora:…>` or `<inversion:…>` token.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkToken {
    pub kind: NetworkKind,
    pub name: String,
    pub weight: f32,
}

/// A `<region:…>` token; coordinates in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionToken {
    pub top: u32,
    pub left: u32,
    pub bottom: u32,
    pub right: u32,
    pub weight: f32,
    pub feather: f32,
    /// Edges to feather, from the `_TLBR` suffix: top, left, bottom, right. All without suffix.
    pub feather_edges: [bool; 4],
    /// The region's prompt; one ending in `+` gets the base prompt appended.
    pub prompt: String,
    pub append_base: bool,
}

/// A `<reseed:…>` token; SEED -1 means "derived from the job's seed".
#[derive(Debug, Clone, PartialEq)]
pub struct ReseedToken {
    pub top: u32,
    pub left: u32,
    pub bottom: u32,
    pub right: u32,
    pub seed: i64,
}

/// A prompt with its tokens taken out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedPrompt {
    /// The remaining text, every `<…>` token removed, surrounding text kept.
    pub text: String,
    pub networks: Vec<NetworkToken>,
    pub regions: Vec<RegionToken>,
    pub reseeds: Vec<ReseedToken>,
    /// `<clip:skip:N>`: use hidden state -N of the text encoder.
    pub clip_skip: Option<u32>,
}

static LORA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<lora:([^:>]+):(-?[.|\d]+)>").expect("lora regex"));
static INVERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<(?:embeddings|inversion):([^:>]+):(-?[.|\d]+)>").expect("inversion regex")
});
static CLIP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<clip:([-\w]+):(\d+)>").expect("clip regex"));
static REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<region:(\d+):(\d+):(\d+):(\d+):(-?[.|\d]+):(-?[.|\d]+)(_[TLBR]*)?:([^>]+)>")
        .expect("region regex")
});
static RESEED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<reseed:(\d+):(\d+):(\d+):(\d+):(-?\d+)>").expect("reseed regex")
});
/// Any other `<…>` token (onnx-web's `remove_tokens`).
static ANY_TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("token regex"));
static INTERVAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\w+)-\{(\d+),(\d+)(?:,(\d+))?\}").expect("interval regex"));

/// A weight like Python's `float()` of the regex's `[.|\d]+` text; `None` for `"1.2.3"` or `"|"`.
fn weight(text: &str) -> Option<f32> {
    text.parse::<f32>().ok().filter(|w| w.is_finite())
}

fn number(text: &str) -> Option<u32> {
    text.parse().ok()
}

/// Takes the network, region, reseed and clip tokens out of a prompt. Tokens whose numbers do not
/// parse (`<lora:x:1.2.3>`) are dropped like the others but not collected.
pub fn parse_prompt(prompt: &str) -> ParsedPrompt {
    let mut parsed = ParsedPrompt::default();
    for caps in LORA.captures_iter(prompt) {
        if let Some(w) = weight(&caps[2]) {
            parsed.networks.push(NetworkToken {
                kind: NetworkKind::Lora,
                name: caps[1].to_owned(),
                weight: w,
            });
        }
    }
    for caps in INVERSION.captures_iter(prompt) {
        if let Some(w) = weight(&caps[2]) {
            parsed.networks.push(NetworkToken {
                kind: NetworkKind::Inversion,
                name: caps[1].to_owned(),
                weight: w,
            });
        }
    }
    for caps in REGION.captures_iter(prompt) {
        let coordinates = (
            number(&caps[1]),
            number(&caps[2]),
            number(&caps[3]),
            number(&caps[4]),
            weight(&caps[5]),
            weight(&caps[6]),
        );
        let (Some(top), Some(left), Some(bottom), Some(right), Some(weight), Some(feather)) =
            coordinates
        else {
            continue;
        };
        let edges = caps.get(7).map(|m| &m.as_str()[1..]).unwrap_or("");
        let feather_edges = if edges.is_empty() {
            [true; 4]
        } else {
            ['T', 'L', 'B', 'R'].map(|e| edges.contains(e))
        };
        let text = &caps[8];
        let (prompt, append_base) = match text.strip_suffix('+') {
            Some(stripped) => (stripped.to_owned(), true),
            None => (text.to_owned(), false),
        };
        parsed.regions.push(RegionToken {
            top,
            left,
            bottom,
            right,
            weight,
            feather,
            feather_edges,
            prompt,
            append_base,
        });
    }
    for caps in RESEED.captures_iter(prompt) {
        let (Some(top), Some(left), Some(bottom), Some(right), Ok(seed)) = (
            number(&caps[1]),
            number(&caps[2]),
            number(&caps[3]),
            number(&caps[4]),
            caps[5].parse::<i64>(),
        ) else {
            continue;
        };
        parsed.reseeds.push(ReseedToken {
            top,
            left,
            bottom,
            right,
            seed,
        });
    }
    if let Some(caps) = CLIP.captures(prompt) {
        if &caps[1] == "skip" {
            parsed.clip_skip = number(&caps[2]);
        }
    }
    // Region prompts may not hold `>`, so removing whole tokens left to right is safe.
    parsed.text = ANY_TOKEN.replace_all(prompt, "").into_owned();
    parsed
}

/// The networks of a prompt and its negative prompt: both lists blend into the model (§5.10).
pub fn prompt_networks(prompt: &str, negative: Option<&str>) -> Vec<NetworkToken> {
    let mut networks = parse_prompt(prompt).networks;
    if let Some(negative) = negative {
        networks.extend(parse_prompt(negative).networks);
    }
    networks
}

/// Prompt stage `index` of a `||`-separated prompt; the last stage repeats; spaces are kept.
pub fn slice_prompt(prompt: &str, index: usize) -> &str {
    let parts: Vec<&str> = prompt.split("||").collect();
    parts[index.min(parts.len() - 1)]
}

/// Upper bound of the items all the intervals of one prompt may produce, against
/// `x-{0,4000000000}` and against thousands of intervals; intervals past it stay as written.
const MAX_INTERVAL_ITEMS: u64 = 1000;

/// `base-{a,b[,step]}` → `base-a base-(a+step) …` below `b` (§5.7).
pub fn expand_intervals(prompt: &str) -> String {
    let mut budget = MAX_INTERVAL_ITEMS;
    INTERVAL
        .replace_all(prompt, |caps: &regex::Captures<'_>| {
            if budget == 0 {
                return caps[0].to_owned();
            }
            let base = &caps[1];
            let parse = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
            let (Some(start), Some(end)) = (parse(2), parse(3)) else {
                return caps[0].to_owned();
            };
            let step = parse(4).unwrap_or(1).max(1);
            let mut items = Vec::new();
            let mut value = start;
            while value < end && budget > 0 {
                items.push(format!("{base}-{value}"));
                budget -= 1;
                value = value.saturating_add(step);
            }
            items.join(" ")
        })
        .into_owned()
}

/// The A1111 attention multipliers (`diffusers/pipelines/lpw.py`).
const ROUND_MULTIPLIER: f32 = 1.1;
const SQUARE_MULTIPLIER: f32 = 1.0 / 1.1;

static ATTENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:([+-]?[.\d]+)\)|\)|]|[^\\()\[\]:]+|:")
        .expect("attention regex")
});

/// Splits a prompt into (text, weight) runs with A1111 attention syntax: `(x)` ×1.1, `[x]` ÷1.1,
/// `(x:1.5)` ×1.5, nesting multiplies, `\(` etc. escape, unbalanced brackets close at the end.
/// Adjacent runs of equal weight are merged. An empty prompt gives `[("", 1.0)]`.
pub fn parse_weighted(prompt: &str) -> Vec<(String, f32)> {
    let mut runs: Vec<(String, f32)> = Vec::new();
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let multiply = |runs: &mut Vec<(String, f32)>, from: usize, by: f32| {
        for run in &mut runs[from..] {
            run.1 *= by;
        }
    };
    for caps in ATTENTION.captures_iter(prompt) {
        let text = caps.get(0).map_or("", |m| m.as_str());
        match text {
            _ if text.starts_with('\\') => runs.push((text[1..].to_owned(), 1.0)),
            "(" => round.push(runs.len()),
            "[" => square.push(runs.len()),
            ")" if !round.is_empty() => {
                let start = round.pop().unwrap_or_default();
                multiply(&mut runs, start, ROUND_MULTIPLIER);
            }
            "]" if !square.is_empty() => {
                let start = square.pop().unwrap_or_default();
                multiply(&mut runs, start, SQUARE_MULTIPLIER);
            }
            _ => match caps.get(1) {
                Some(explicit) => match (round.pop(), explicit.as_str().parse::<f32>()) {
                    (Some(start), Ok(w)) if w.is_finite() => multiply(&mut runs, start, w),
                    (Some(_), _) => {}
                    (None, _) => runs.push((text.to_owned(), 1.0)),
                },
                None => runs.push((text.to_owned(), 1.0)),
            },
        }
    }
    for start in round {
        multiply(&mut runs, start, ROUND_MULTIPLIER);
    }
    for start in square {
        multiply(&mut runs, start, SQUARE_MULTIPLIER);
    }
    let mut merged: Vec<(String, f32)> = Vec::new();
    for (text, w) in runs {
        match merged.last_mut() {
            Some(last) if last.1 == w => last.0.push_str(&text),
            _ => merged.push((text, w)),
        }
    }
    if merged.is_empty() {
        merged.push((String::new(), 1.0));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(prompt: &str) -> Vec<(String, f32)> {
        parse_weighted(prompt)
            .into_iter()
            .map(|(t, w)| (t, (w * 10_000.0).round() / 10_000.0))
            .collect()
    }

    fn r(text: &str, w: f32) -> (String, f32) {
        (text.to_owned(), w)
    }

    #[test]
    fn network_tokens_are_taken_out_keeping_the_text() {
        let parsed = parse_prompt("<lora:test:1.0> an astronaut <inversion:cubex:-0.5>");
        assert_eq!(parsed.text, " an astronaut ");
        assert_eq!(
            parsed.networks,
            vec![
                NetworkToken {
                    kind: NetworkKind::Lora,
                    name: "test".into(),
                    weight: 1.0
                },
                NetworkToken {
                    kind: NetworkKind::Inversion,
                    name: "cubex".into(),
                    weight: -0.5
                },
            ]
        );
        let embeddings = parse_prompt("<embeddings:e:2> x");
        assert_eq!(embeddings.networks[0].kind, NetworkKind::Inversion);
        assert_eq!(embeddings.networks[0].weight, 2.0);
    }

    #[test]
    fn malformed_weights_are_dropped_without_panicking() {
        let parsed = parse_prompt("<lora:x:1.2.3> <lora:y:|> <lora::1> <lora:z:.5>");
        assert_eq!(parsed.networks.len(), 1);
        assert_eq!(parsed.networks[0].name, "z");
        assert_eq!(parsed.text.trim(), "");
    }

    #[test]
    fn negative_prompt_networks_are_collected_too() {
        let networks = prompt_networks("<lora:a:1> cat", Some("<inversion:b:0.5> blur"));
        let names: Vec<_> = networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn region_and_reseed_tokens() {
        let parsed = parse_prompt(
            "a forest <region:0:64:128:192:0.5:0.25_TL:a lake+> <reseed:8:16:24:32:-1> <clip:skip:2>",
        );
        assert_eq!(parsed.text, "a forest   ");
        let region = &parsed.regions[0];
        assert_eq!(
            (region.top, region.left, region.bottom, region.right),
            (0, 64, 128, 192)
        );
        assert_eq!((region.weight, region.feather), (0.5, 0.25));
        assert_eq!(region.feather_edges, [true, true, false, false]);
        assert_eq!(region.prompt, "a lake");
        assert!(region.append_base);
        let no_suffix = parse_prompt("<region:1:2:3:4:100:0:sky>").regions;
        assert_eq!(no_suffix[0].feather_edges, [true; 4]);
        assert!(!no_suffix[0].append_base);
        assert_eq!(
            parsed.reseeds,
            vec![ReseedToken {
                top: 8,
                left: 16,
                bottom: 24,
                right: 32,
                seed: -1
            }]
        );
        assert_eq!(parsed.clip_skip, Some(2));
    }

    #[test]
    fn slice_prompt_matches_onnx_web() {
        assert_eq!(slice_prompt("foo || bar", 0), "foo ");
        assert_eq!(slice_prompt("foo || bar", 1), " bar");
        assert_eq!(slice_prompt("foo || bar", 5), " bar");
        assert_eq!(slice_prompt("plain", 3), "plain");
        assert_eq!(slice_prompt("", 0), "");
    }

    #[test]
    fn interval_ranges_match_onnx_web() {
        assert_eq!(
            expand_intervals("an astronaut-{1,4} eating"),
            "an astronaut-1 astronaut-2 astronaut-3 eating"
        );
        assert_eq!(expand_intervals("x-{0,10,5}"), "x-0 x-5");
        assert_eq!(expand_intervals("x-{3,3}"), "");
        assert_eq!(
            expand_intervals("x-{0,99999999999999999999999}"),
            "x-{0,99999999999999999999999}"
        );
        assert_eq!(
            expand_intervals("x-{0,4000000000}").split(' ').count(),
            MAX_INTERVAL_ITEMS as usize
        );
        // The bound is per prompt: thousands of intervals do not multiply it.
        let many = "a-{0,1000} ".repeat(5000);
        let expanded = expand_intervals(&many);
        assert_eq!(expanded.matches("a-{0,1000}").count(), 4999);
        assert_eq!(
            expanded
                .split(' ')
                .filter(|w| w.starts_with("a-") && !w.contains('{'))
                .count(),
            MAX_INTERVAL_ITEMS as usize
        );
    }

    #[test]
    fn attention_weights_follow_a1111() {
        // The examples of lpw.py's parse_prompt_attention docstring.
        assert_eq!(runs("normal text"), vec![r("normal text", 1.0)]);
        assert_eq!(
            runs("an (important) word"),
            vec![r("an ", 1.0), r("important", 1.1), r(" word", 1.0)]
        );
        assert_eq!(runs("(unbalanced"), vec![r("unbalanced", 1.1)]);
        assert_eq!(runs("\\(literal\\]"), vec![r("(literal]", 1.0)]);
        assert_eq!(
            runs("(unnecessary)(parens)"),
            vec![r("unnecessaryparens", 1.1)]
        );
        assert_eq!(
            runs("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."),
            vec![
                r("a ", 1.0),
                r("house", 1.573),
                r(" ", 1.1),
                r("on", 1.0),
                r(" a ", 1.1),
                r("hill", 0.55),
                r(", sun, ", 1.1),
                r("sky", 1.4641),
                r(".", 1.1),
            ]
        );
        assert_eq!(runs("(word:1.2)"), vec![r("word", 1.2)]);
        assert_eq!(runs(""), vec![r("", 1.0)]);
        assert_eq!(runs("a: b"), vec![r("a: b", 1.0)]);
        assert_eq!(runs("a) b]"), vec![r("a) b]", 1.0)]);
        assert_eq!(runs("[x]"), vec![r("x", 0.9091)]);
    }

    #[test]
    fn hostile_prompts_do_not_panic() {
        for prompt in [
            "((((",
            "))))",
            "[[[]]]]]",
            ":::)",
            "(:1e40)",
            "(x:nan)",
            "<<<>>>",
            "<lora:",
            "\\",
            "||||",
            "<region:1:2:3:4:5:6:>",
            "é(ü:2)ß",
            "x-{9,1}",
            "(a|b)",
        ] {
            let _ = parse_prompt(prompt);
            let _ = parse_weighted(prompt);
            let _ = expand_intervals(prompt);
            let _ = slice_prompt(prompt, 7);
        }
    }
}
