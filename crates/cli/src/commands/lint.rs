//! `weir lint -f FILE...`: every problem in every document, offline; exit 1 when any.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::LintArgs;
use crate::manifests;

pub(crate) fn run(args: LintArgs) -> Result<ExitCode> {
    let mut problems = 0usize;
    let mut documents = 0usize;
    for path in manifests::files(&args.files, args.recursive)? {
        let (name, text) = manifests::read(&path)?;
        let report = weir_model::typed::check_manifests(&name, &text);
        documents += report.documents;
        for problem in &report.problems {
            eprintln!("{problem}");
        }
        problems += report.problems.len();
    }
    if problems == 0 {
        println!("{documents} documents checked, no problems");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{problems} problems in {documents} documents");
        Ok(ExitCode::FAILURE)
    }
}
