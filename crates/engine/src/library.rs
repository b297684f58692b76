//! Finding `libonnxruntime` on the user's machine: the binary loads it at run time, so one build
//! serves the CPU, CUDA, MIGraphX and DirectML packages alike.

use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(target_os = "windows")]
const LIBRARY_NAME: &str = "onnxruntime.dll";
#[cfg(target_os = "macos")]
const LIBRARY_NAME: &str = "libonnxruntime.dylib";
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
const LIBRARY_NAME: &str = "libonnxruntime.so";

/// Where the set-up script unpacks the library, relative to the project root.
const PROJECT_FOLDER: &str = "third_party/onnxruntime";

/// Candidate library paths, in the order they are tried: `ORT_DYLIB_PATH`, the project's folder
/// (beside the executable or in one of its parent folders, then below the working directory), then
/// the `onnxruntime` Python package of the `python3` on PATH.
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(path) = explicit {
        paths.push(path.to_path_buf());
        return paths;
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(path));
        return paths;
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            paths.push(dir.join(LIBRARY_NAME));
            for ancestor in dir.ancestors() {
                paths.push(ancestor.join(PROJECT_FOLDER).join(LIBRARY_NAME));
            }
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        paths.push(cwd.join(PROJECT_FOLDER).join(LIBRARY_NAME));
    }
    paths.extend(python_package_library());
    paths
}

/// The first candidate that exists.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let candidates = candidates(explicit);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let mut searched: Vec<String> =
                candidates.iter().map(|p| p.display().to_string()).collect();
            searched.dedup();
            if explicit.is_none() && std::env::var_os("ORT_DYLIB_PATH").is_none() {
                searched.push("the python3 onnxruntime package".into());
            }
            searched.join(", ")
        })
}

/// `libonnxruntime.so.1.x` inside the `onnxruntime` package of the `python3` on PATH, if any.
fn python_package_library() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import importlib.util, os; s = importlib.util.find_spec('onnxruntime'); \
             print(os.path.join(os.path.dirname(s.origin), 'capi') if s else '')",
        ])
        .output()
        .ok()?;
    let capi = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    if capi.as_os_str().is_empty() {
        return None;
    }
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so.1.") || n == "onnxruntime.dll")
        })
        .collect();
    libraries.sort();
    libraries.pop()
}
