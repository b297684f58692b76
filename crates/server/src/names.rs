//! One rule for the names a request picks from a list on onnx-web's API (`model`, `scheduler`,
//! `pipeline`, `platform`, `upscaling`, `correction`, `control`, `highresMethod`, `upscaleOrder`,
//! `sourceFilter`, `filter`, `noise`), in the image endpoints and in chain stages alike:
//!
//! 1. a listed name is used as it is;
//! 2. the same name written differently (case, `_` or spaces for `-`) is the listed one;
//! 3. a name of the alias table ([`SCHEDULER_ALIASES`]: short names, A1111 sampler names and
//!    diffusers class names) is the name it stands for;
//! 4. anything else falls back as onnx-web falls back for that list (what a missing value gets:
//!    the default or first entry, `any` platform, no ControlNet);
//!
//! and every replacement (2 to 4) adds a line to the response's `warnings` and a warning to the
//! log, naming the field, the value given, the value used and why. A missing or empty value is not
//! a replacement. A value that is not a name at all (control or formatting characters, path
//! separators, emoji, longer than 256 characters) is still a 400 naming the field.

use crate::error::ApiError;

/// Scheduler names with an obvious meaning, matched after [`normalize`] (so `Euler a`, `euler_a`
/// and `EULER A` are one key): onnx-web's short names, A1111's sampler names (and their k-diffusion
/// ids), and diffusers' scheduler classes. The Karras variants run the plain schedule: onnx-web
/// has no Karras sigmas option.
pub const SCHEDULER_ALIASES: &[(&str, &str)] = &[
    // Short names.
    ("deis", "deis-multi"),
    ("dpm", "dpm-multi"),
    ("dpm-single-step", "dpm-single"),
    ("unipc", "unipc-multi"),
    ("lms", "lms-discrete"),
    ("euler-ancestral", "euler-a"),
    ("k-dpm2", "k-dpm-2"),
    ("k-dpm2-a", "k-dpm-2-a"),
    // A1111 sampler names.
    ("DDIM", "ddim"),
    ("DDPM", "ddpm"),
    ("DEIS", "deis-multi"),
    ("DPM++ 2M", "dpm-multi"),
    ("DPM++ 2M Karras", "dpm-multi"),
    ("DPM++ 2S a", "dpm-single"),
    ("DPM++ 2S a Karras", "dpm-single"),
    ("DPM++ SDE", "dpm-sde"),
    ("DPM++ SDE Karras", "dpm-sde"),
    ("DPM2", "k-dpm-2"),
    ("DPM2 Karras", "k-dpm-2"),
    ("DPM2 a", "k-dpm-2-a"),
    ("DPM2 a Karras", "k-dpm-2-a"),
    ("Euler", "euler"),
    ("Euler a", "euler-a"),
    ("Heun", "heun"),
    ("LCM", "lcm"),
    ("LMS", "lms-discrete"),
    ("LMS Karras", "lms-discrete"),
    ("PLMS", "pndm"),
    ("UniPC", "unipc-multi"),
    // A1111's k-diffusion sampler ids.
    ("k_euler", "euler"),
    ("k_euler_a", "euler-a"),
    ("k_euler_ancestral", "euler-a"),
    ("k_heun", "heun"),
    ("k_lms", "lms-discrete"),
    ("k_dpm_2", "k-dpm-2"),
    ("k_dpm_2_a", "k-dpm-2-a"),
    ("k_dpmpp_2m", "dpm-multi"),
    ("k_dpmpp_2s_a", "dpm-single"),
    ("k_dpmpp_sde", "dpm-sde"),
    // diffusers' scheduler classes.
    ("DDIMScheduler", "ddim"),
    ("DDPMScheduler", "ddpm"),
    ("DEISMultistepScheduler", "deis-multi"),
    ("DPMSolverMultistepScheduler", "dpm-multi"),
    ("DPMSolverSDEScheduler", "dpm-sde"),
    ("DPMSolverSinglestepScheduler", "dpm-single"),
    ("EulerDiscreteScheduler", "euler"),
    ("EulerAncestralDiscreteScheduler", "euler-a"),
    ("HeunDiscreteScheduler", "heun"),
    ("IPNDMScheduler", "ipndm"),
    ("KDPM2AncestralDiscreteScheduler", "k-dpm-2-a"),
    ("KDPM2DiscreteScheduler", "k-dpm-2"),
    ("LCMScheduler", "lcm"),
    ("LMSDiscreteScheduler", "lms-discrete"),
    ("PNDMScheduler", "pndm"),
    ("UniPCMultistepScheduler", "unipc-multi"),
];

/// The longest value taken as a name.
const MAX_NAME_CHARS: usize = 256;

/// A list a request picks a name from.
#[derive(Clone, Copy, Debug)]
pub struct NameList<'a> {
    /// The query key.
    pub field: &'a str,
    /// What a listed name is, with its article (`a scheduler`), for the messages.
    pub what: &'a str,
    pub names: &'a [&'a str],
    pub aliases: &'a [(&'a str, &'a str)],
}

/// What an unknown name becomes: `name` (or nothing), described by `label` (`the default
/// scheduler`, `on any platform`).
#[derive(Clone, Copy, Debug)]
pub struct Fallback<'a> {
    pub name: Option<&'a str>,
    pub label: &'a str,
}

impl<'a> Fallback<'a> {
    pub fn to(name: Option<&'a str>, label: &'a str) -> Self {
        Self { name, label }
    }
}

/// Lower case, `_` and white space as `-`, repeated `-` as one, none at the ends.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        let c = if c == '_' || c.is_whitespace() {
            '-'
        } else {
            c
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Whether `value` can be a name at all: letters, digits, spaces and `-_.+()[],:'@#&~!`, at most
/// 256 characters. Path separators, control and formatting characters and symbols are not.
pub fn is_name(value: &str) -> bool {
    value.chars().count() <= MAX_NAME_CHARS
        && value.chars().all(|c| {
            c.is_alphanumeric()
                || c == ' '
                || matches!(
                    c,
                    '-' | '_'
                        | '.'
                        | '+'
                        | '('
                        | ')'
                        | '['
                        | ']'
                        | ','
                        | ':'
                        | '\''
                        | '@'
                        | '#'
                        | '&'
                        | '~'
                        | '!'
                )
        })
}

/// Quotes a client value for a message, cut to a readable length.
pub fn quote(value: &str) -> String {
    const LIMIT: usize = 64;
    if value.chars().count() > LIMIT {
        let short: String = value.chars().take(LIMIT).collect();
        format!("{short:?}...")
    } else {
        format!("{value:?}")
    }
}

/// How a given name was matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Listed as given.
    Exact(String),
    /// Listed, written differently, or an alias of a listed name.
    Alias(String),
    /// Not listed: the list's fallback.
    Fallback(Option<String>),
}

/// Matches `given` against `list` (steps 1 to 3 of the module's rule), or `Fallback`. `Err` for a
/// value that is not a name.
pub fn lookup(
    list: &NameList<'_>,
    given: &str,
    fallback: Option<&str>,
) -> Result<Resolution, ApiError> {
    if let Some(name) = list.names.iter().find(|n| **n == given) {
        return Ok(Resolution::Exact((*name).to_owned()));
    }
    if !is_name(given) {
        return Err(ApiError::field(
            list.field,
            format!(
                "{} is not a name (letters, digits, spaces and -_.+()[],:'@#&~! only, at most \
                 {MAX_NAME_CHARS} characters)",
                quote(given)
            ),
        ));
    }
    let key = normalize(given);
    if let Some(name) = list.names.iter().find(|n| normalize(n) == key) {
        return Ok(Resolution::Alias((*name).to_owned()));
    }
    let aliased = list
        .aliases
        .iter()
        .filter(|(alias, _)| normalize(alias) == key)
        .find_map(|(_, target)| list.names.iter().find(|n| *n == target));
    if let Some(name) = aliased {
        return Ok(Resolution::Alias((*name).to_owned()));
    }
    Ok(Resolution::Fallback(fallback.map(str::to_owned)))
}

/// The name a request gets from `list`: missing or empty → the fallback, silently; otherwise
/// [`lookup`], and a replacement pushes a warning onto `warnings` (and logs it).
pub fn resolve(
    warnings: &mut Vec<String>,
    list: &NameList<'_>,
    given: Option<&str>,
    fallback: Fallback<'_>,
) -> Result<Option<String>, ApiError> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Ok(fallback.name.map(str::to_owned));
    };
    let (used, warning) = match lookup(list, given, fallback.name)? {
        Resolution::Exact(name) => return Ok(Some(name)),
        Resolution::Alias(name) => {
            let why = if normalize(&name) == normalize(given) {
                "the same name written differently"
            } else {
                "the name it stands for"
            };
            let warning = format!(
                "{}: {} is not {} here; ran {}, {why}",
                list.field,
                quote(given),
                list.what,
                quote(&name)
            );
            (Some(name), warning)
        }
        Resolution::Fallback(name) => {
            let ran = match &name {
                Some(name) => format!("ran {} {} instead", fallback.label, quote(name)),
                None => format!("ran {}", fallback.label),
            };
            let warning = format!(
                "{}: {} is not {} here; {ran}",
                list.field,
                quote(given),
                list.what
            );
            (name, warning)
        }
    };
    tracing::warn!("{warning}");
    warnings.push(warning);
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULERS: &[&str] = onnx_web_diffusion::schedulers::SCHEDULER_NAMES;

    fn schedulers() -> NameList<'static> {
        NameList {
            field: "scheduler",
            what: "a scheduler",
            names: SCHEDULERS,
            aliases: SCHEDULER_ALIASES,
        }
    }

    fn run(
        list: &NameList<'_>,
        given: Option<&str>,
        fallback: Fallback<'_>,
    ) -> (Option<String>, Vec<String>) {
        let mut warnings = Vec::new();
        let used = resolve(&mut warnings, list, given, fallback).unwrap();
        (used, warnings)
    }

    #[test]
    fn normalizing() {
        assert_eq!(normalize("  Euler  a "), "euler-a");
        assert_eq!(normalize("k_dpm_2_a"), "k-dpm-2-a");
        assert_eq!(normalize("DPM++ 2M Karras"), "dpm++-2m-karras");
        assert_eq!(normalize("--x__y--"), "x-y");
    }

    #[test]
    fn names_and_non_names() {
        for name in [
            "ddim",
            "Euler a",
            "DPM++ 2M",
            "diffusion-ÄÖ-日本",
            "v1.5 (fp16)",
            "..",
        ] {
            assert!(is_name(name), "{name}");
        }
        for value in [
            "../x",
            "a\\b",
            "a\u{202e}b",
            "tab\there",
            "🐈",
            "a\0b",
            &"x".repeat(257),
        ] {
            assert!(!is_name(value), "{value:?}");
        }
    }

    #[test]
    fn listed_names_are_used_silently() {
        let fallback = Fallback::to(Some("ddim"), "the default scheduler");
        for name in SCHEDULERS {
            assert_eq!(
                run(&schedulers(), Some(name), fallback),
                (Some((*name).to_owned()), vec![])
            );
        }
        // Missing or empty: the fallback, without a warning.
        assert_eq!(
            run(&schedulers(), None, fallback),
            (Some("ddim".into()), vec![])
        );
        assert_eq!(
            run(&schedulers(), Some(""), fallback),
            (Some("ddim".into()), vec![])
        );
    }

    #[test]
    fn every_alias_names_a_scheduler() {
        for (alias, target) in SCHEDULER_ALIASES {
            assert!(SCHEDULERS.contains(target), "{alias} -> {target}");
            let (used, warnings) = run(&schedulers(), Some(alias), Fallback::to(Some("ddim"), "x"));
            assert_eq!(used.as_deref(), Some(*target), "{alias}");
            assert_eq!(warnings.len(), 1);
        }
    }

    #[test]
    fn aliases_map_with_a_warning() {
        let fallback = Fallback::to(Some("euler-a"), "the default scheduler");
        for (given, expected) in [
            ("deis", "deis-multi"),
            ("unipc", "unipc-multi"),
            ("dpm", "dpm-multi"),
            ("Euler a", "euler-a"),
            ("euler_a", "euler-a"),
            ("Euler", "euler"),
            ("DDIM", "ddim"),
            ("PLMS", "pndm"),
            ("LMS", "lms-discrete"),
            ("Heun", "heun"),
            ("DPM2", "k-dpm-2"),
            ("DPM2 a", "k-dpm-2-a"),
            ("DPM++ 2M", "dpm-multi"),
            ("dpm++ 2m karras", "dpm-multi"),
            ("DPM++ SDE", "dpm-sde"),
            ("UniPC", "unipc-multi"),
            ("LCM", "lcm"),
            ("DDPM", "ddpm"),
            ("k_euler_a", "euler-a"),
            ("EulerAncestralDiscreteScheduler", "euler-a"),
        ] {
            let (used, warnings) = run(&schedulers(), Some(given), fallback);
            assert_eq!(used.as_deref(), Some(expected), "{given}");
            assert_eq!(warnings.len(), 1, "{given}");
            assert!(
                warnings[0].starts_with(&format!(
                    "scheduler: {given:?} is not a scheduler here; ran {expected:?}"
                )),
                "{}",
                warnings[0]
            );
        }
        let (_, warnings) = run(&schedulers(), Some("deis"), fallback);
        assert_eq!(
            warnings[0],
            "scheduler: \"deis\" is not a scheduler here; ran \"deis-multi\", the name it stands for"
        );
        let (_, warnings) = run(&schedulers(), Some("DDIM"), fallback);
        assert!(
            warnings[0].ends_with("the same name written differently"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn unknown_names_fall_back_with_a_warning() {
        let (used, warnings) = run(
            &schedulers(),
            Some("warp-drive"),
            Fallback::to(Some("euler-a"), "the default scheduler"),
        );
        assert_eq!(used.as_deref(), Some("euler-a"));
        assert_eq!(
            warnings,
            ["scheduler: \"warp-drive\" is not a scheduler here; ran the default scheduler \"euler-a\" instead"]
        );
        // An alias whose target is not listed falls back too.
        let short = NameList {
            names: &["ddim"],
            ..schedulers()
        };
        let (used, warnings) = run(
            &short,
            Some("deis"),
            Fallback::to(Some("ddim"), "the first scheduler"),
        );
        assert_eq!(used.as_deref(), Some("ddim"));
        assert_eq!(warnings.len(), 1);
        // A fallback to nothing.
        let platforms = NameList {
            field: "platform",
            what: "a platform",
            names: &["any", "cpu"],
            aliases: &[],
        };
        let (used, warnings) = run(
            &platforms,
            Some("quantum"),
            Fallback::to(None, "on any platform"),
        );
        assert_eq!(used, None);
        assert_eq!(
            warnings,
            ["platform: \"quantum\" is not a platform here; ran on any platform"]
        );
        let (used, warnings) = run(
            &platforms,
            Some("CPU"),
            Fallback::to(None, "on any platform"),
        );
        assert_eq!((used.as_deref(), warnings.len()), (Some("cpu"), 1));
    }

    #[test]
    fn values_that_are_not_names_are_a_400() {
        let mut warnings = Vec::new();
        for value in ["../../etc", "🐈", "a\u{202e}b"] {
            let error = resolve(
                &mut warnings,
                &schedulers(),
                Some(value),
                Fallback::to(Some("ddim"), "the default scheduler"),
            )
            .unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(
                error.message().starts_with("scheduler: "),
                "{}",
                error.message()
            );
        }
        assert!(warnings.is_empty());
    }
}
