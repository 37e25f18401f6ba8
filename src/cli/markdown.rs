//! `--format markdown`: a comment for the pull-request conversation (GitHub, GitLab). What the change
//! breaks, with each finding's values side by side per environment; what it fixes; what was already there
//! (collapsed); policy changes; what could not be checked. The comment stays under [`MAX_CHARS`] however
//! many findings there are: when it would not, the largest sections are cut first, each with a count of
//! what was left out. Every name, value and message comes from the checked repo (a pull request is code from
//! someone else), so all of it is escaped: nothing in it can open a tag, end a `<details>` or split a table.

use crate::codes::RuleId;
use crate::finding::{CheckError, Finding, Severity};
use crate::pipeline::{Gate, Report, Status};

/// The longest comment GitHub accepts (characters; GitLab's notes allow more).
pub const MAX_CHARS: usize = 65_536;

/// What the sections may take: the limit less room for the headline and the notes the budget adds.
const BUDGET: usize = MAX_CHARS - 4_096;

/// The longest value, name or message shown (characters); longer ones end in `…`.
const MAX_VALUE: usize = 200;
const MAX_MESSAGE: usize = 500;

/// What a comment says, sorted into its sections; [`render`] lays it out.
pub struct Comment<'a> {
    /// The base commit (`check --base`), or none: then every finding is "already present".
    pub base: Option<(&'a str, &'a str)>,
    /// The verdict, as the exit code has it.
    pub status: Status,
    /// Findings the base's config reports and the change's config hides or lowers (`policy-change`).
    pub policy_changes: Vec<&'a Finding>,
    /// New blocking and warning findings.
    pub breaks: Vec<&'a Finding>,
    /// New info findings.
    pub new_info: Vec<&'a Finding>,
    /// Findings of the base the change no longer has.
    pub fixes: Vec<&'a Finding>,
    /// Findings the base has too (every finding, without a base).
    pub present: Vec<&'a Finding>,
    /// What could not be checked.
    pub errors: &'a [CheckError],
}

impl<'a> Comment<'a> {
    /// The comment of `check --base`.
    pub fn of_gate(gate: &'a Gate) -> Comment<'a> {
        let (policy_changes, findings): (Vec<&Finding>, Vec<&Finding>) = gate
            .report
            .findings
            .iter()
            .partition(|f| f.rule == RuleId::PolicyChange);
        let (new, present): (Vec<&Finding>, Vec<&Finding>) =
            findings.into_iter().partition(|f| gate.is_new(f));
        let (breaks, new_info) = new.into_iter().partition(|f| f.severity != Severity::Info);
        Comment {
            base: Some((&gate.base.id, &gate.base.summary)),
            status: gate.status(),
            policy_changes,
            breaks,
            new_info,
            fixes: gate.fixed.iter().collect(),
            present,
            errors: &gate.report.errors,
        }
    }

    /// The comment of a check without a base: every finding is already there.
    pub fn of_report(report: &'a Report) -> Comment<'a> {
        Comment {
            base: None,
            status: report.status(),
            policy_changes: Vec::new(),
            breaks: Vec::new(),
            new_info: Vec::new(),
            fixes: Vec::new(),
            present: report.findings.iter().collect(),
            errors: &report.errors,
        }
    }
}

/// One section: its items, rendered, and how many of them the budget leaves in.
struct Section {
    title: String,
    collapsed: bool,
    items: Vec<String>,
    shown: usize,
}

impl Section {
    fn new(title: &str, collapsed: bool, items: Vec<String>) -> Section {
        let shown = items.len();
        Section {
            title: title.to_string(),
            collapsed,
            items,
            shown,
        }
    }

    fn shown_len(&self) -> usize {
        self.items[..self.shown].iter().map(String::len).sum()
    }

    fn write(&self, out: &mut String) {
        let title = format!("{} ({})", self.title, self.items.len());
        if self.collapsed {
            out.push_str(&format!("<details><summary>{title}</summary>\n\n"));
        } else {
            out.push_str(&format!("### {title}\n\n"));
        }
        for item in &self.items[..self.shown] {
            out.push_str(item);
        }
        let cut = self.items.len() - self.shown;
        if cut > 0 {
            out.push_str(&format!(
                "\n_… and {cut} more, left out to keep this comment under GitHub's limit: the job's log has them all._\n"
            ));
        }
        if self.collapsed {
            out.push_str("\n</details>\n");
        }
        out.push('\n');
    }
}

/// The comment, under [`MAX_CHARS`] characters.
pub fn render(c: &Comment) -> String {
    let mut sections = Vec::new();
    let mut add = |title: &str, collapsed: bool, items: Vec<String>| {
        if !items.is_empty() {
            sections.push(Section::new(title, collapsed, items));
        }
    };
    add(
        "Policy changes",
        false,
        c.policy_changes.iter().map(|f| detailed(f)).collect(),
    );
    add(
        "Breaks",
        false,
        c.breaks.iter().map(|f| detailed(f)).collect(),
    );
    add(
        "Could not be checked",
        false,
        c.errors.iter().map(error).collect(),
    );
    add(
        "New info",
        true,
        c.new_info.iter().map(|f| line(f)).collect(),
    );
    add("Fixes", true, c.fixes.iter().map(|f| line(f)).collect());
    let present = if c.base.is_some() {
        "Already present at the base"
    } else {
        "Findings"
    };
    add(present, true, c.present.iter().map(|f| line(f)).collect());

    // Cut the largest section by one item until everything fits: the big ones shrink first, and a small
    // section (the errors, a single break) keeps all it has.
    let mut total: usize = sections.iter().map(Section::shown_len).sum();
    while total > BUDGET {
        let Some(largest) = sections
            .iter_mut()
            .filter(|s| s.shown > 0)
            .max_by_key(|s| s.shown_len())
        else {
            break;
        };
        largest.shown -= 1;
        total -= largest.items[largest.shown].len();
    }

    let mut out = headline(c);
    for s in &sections {
        s.write(&mut out);
    }
    out
}

fn headline(c: &Comment) -> String {
    let blocking = |fs: &[&Finding]| fs.iter().filter(|f| f.severity == Severity::Block).count();
    let (new_block, all_block) = (
        blocking(&c.breaks) + blocking(&c.policy_changes),
        blocking(&c.present),
    );
    let verdict = match (c.status, c.base.is_some()) {
        (Status::Incomplete, _) => format!(
            "⚠️ incomplete: {} thing(s) could not be checked",
            c.errors.len()
        ),
        (Status::Failed, true) => format!("❌ this change adds {new_block} blocking finding(s)"),
        (Status::Failed, false) => format!("❌ {all_block} blocking finding(s)"),
        (Status::Ok, true) => "✅ nothing new blocks".to_string(),
        (Status::Ok, false) => "✅ nothing blocks".to_string(),
    };
    let mut out = format!("## envparity: {verdict}\n\n");
    match c.base {
        Some((id, summary)) => {
            let count = |sev: Severity| {
                c.breaks
                    .iter()
                    .chain(&c.new_info)
                    .filter(|f| f.severity == sev)
                    .count()
            };
            out.push_str(&format!(
                "Against `{}` ({}): **{} new** ({} block, {} warn, {} info) · **{} fixed** · {} already present",
                crate::source::short(id),
                text(summary, MAX_VALUE),
                c.breaks.len() + c.new_info.len(),
                count(Severity::Block),
                count(Severity::Warn),
                count(Severity::Info),
                c.fixes.len(),
                c.present.len()
            ));
        }
        None => {
            let count = |sev: Severity| c.present.iter().filter(|f| f.severity == sev).count();
            out.push_str(&format!(
                "**{} block**, {} warn, {} info",
                count(Severity::Block),
                count(Severity::Warn),
                count(Severity::Info)
            ));
        }
    }
    if !c.policy_changes.is_empty() {
        out.push_str(&format!(" · {} policy change(s)", c.policy_changes.len()));
    }
    if !c.errors.is_empty() {
        out.push_str(&format!(" · {} could not be checked", c.errors.len()));
    }
    out.push_str("\n\n");
    out
}

/// Rule, service, object and field on one line.
fn label(f: &Finding) -> String {
    let container = f
        .container
        .as_deref()
        .map(|c| format!(" [{}]", code(c)))
        .unwrap_or_default();
    format!(
        "{} · {} · {}{container} · {}",
        code(f.rule.as_str()),
        text(&f.service, MAX_VALUE),
        code(&format!("{}/{}", f.kind, f.name)),
        code(&f.field)
    )
}

/// A finding with its message and a table of its values, one column per environment in promotion order.
fn detailed(f: &Finding) -> String {
    let mut envs: Vec<&str> = f.envs.iter().map(String::as_str).collect();
    for env in f.values.keys() {
        if !envs.contains(&env.as_str()) {
            envs.push(env);
        }
    }
    let mut out = format!(
        "**{}** {}<br>\n{}\n\n",
        f.severity.as_str().to_uppercase(),
        label(f),
        text(&f.message, MAX_MESSAGE)
    );
    if !envs.is_empty() {
        let header: Vec<String> = envs.iter().map(|e| text(e, MAX_VALUE)).collect();
        let values: Vec<String> = envs
            .iter()
            .map(|e| match f.values.get(*e) {
                Some(v) if v.is_empty() => "<em>empty</em>".to_string(),
                Some(v) => code(v),
                None => "—".to_string(),
            })
            .collect();
        out.push_str(&format!(
            "| {} |\n|{}\n| {} |\n\n",
            header.join(" | "),
            "---|".repeat(envs.len()),
            values.join(" | ")
        ));
    }
    out
}

/// A finding as one list item (collapsed sections).
fn line(f: &Finding) -> String {
    format!("- **{}** {}\n", f.severity.as_str(), label(f))
}

fn error(e: &CheckError) -> String {
    let at = [e.service.as_deref(), e.env.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    let at = if at.is_empty() {
        String::new()
    } else {
        format!("**{}** ", text(&at, MAX_VALUE))
    };
    format!(
        "- {at}({}): {}\n",
        e.kind.as_str(),
        text(&e.message, MAX_MESSAGE)
    )
}

/// `s` in `<code>`: monospace like a code span, but, unlike one, able to hold any character escaped (a
/// backtick in a value would end a code span, and a `|` splits a table cell even inside one).
fn code(s: &str) -> String {
    format!("<code>{}</code>", text(s, MAX_VALUE))
}

/// `s` as inline text that renders as itself: HTML's special characters, `|` and backticks as
/// entities; Markdown's emphasis, link, strike-through and math characters backslash-escaped; line breaks
/// as spaces (a value cannot end a table row or a list item); at most `max` characters.
fn text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\\' | '*' | '_' | '[' | ']' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::RuleId;

    fn finding(i: usize, severity: Severity, value: &str) -> Finding {
        let mut f = Finding {
            rule: RuleId::ALL[i % RuleId::ALL.len()],
            severity,
            service: format!("service-{}", i % 40),
            kind: "Deployment".into(),
            name: format!("app-{i}"),
            container: Some("app".into()),
            envs: vec!["dev".into(), "staging".into(), "production".into()],
            field: "resources.limits.memory".into(),
            values: [
                ("dev".to_string(), "512Mi".to_string()),
                ("staging".to_string(), value.to_string()),
                ("production".to_string(), "1Gi".to_string()),
            ]
            .into_iter()
            .collect(),
            message: format!("staging's limit {value} is above production's 1Gi"),
            fingerprint: format!("fp-{i}"),
            files: Default::default(),
        };
        f.fingerprint = format!("fp-{i}-{:?}", f.severity);
        f
    }

    fn comment<'a>(
        breaks: &'a [Finding],
        fixes: &'a [Finding],
        present: &'a [Finding],
        errors: &'a [CheckError],
    ) -> Comment<'a> {
        Comment {
            base: Some(("0123456789abcdef0123456789abcdef01234567", "main: bump")),
            status: Status::Failed,
            policy_changes: Vec::new(),
            breaks: breaks.iter().collect(),
            new_info: Vec::new(),
            fixes: fixes.iter().collect(),
            present: present.iter().collect(),
            errors,
        }
    }

    /// The `… and N more` counts, by section title.
    fn cut(md: &str, title: &str) -> usize {
        let start = md.find(title).expect(title);
        let rest = &md[start..];
        let end = rest[1..].find("### ").or(rest[1..].find("<details>"));
        let section = &rest[..end.map_or(rest.len(), |e| e + 1)];
        section
            .split("_… and ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .map_or(0, |n| n.parse().expect("count"))
    }

    #[test]
    fn thousands_of_findings_stay_under_the_limit_with_counts() {
        let long = "x".repeat(5_000);
        let breaks: Vec<Finding> = (0..3_000)
            .map(|i| finding(i, Severity::Block, &long))
            .collect();
        let fixes: Vec<Finding> = (0..5).map(|i| finding(i, Severity::Warn, "1Gi")).collect();
        let present: Vec<Finding> = (0..10_000)
            .map(|i| finding(i, Severity::Warn, "2Gi"))
            .collect();
        let errors = vec![CheckError::of(
            "inventory",
            "production",
            crate::codes::ErrorKind::Render,
            "kustomize failed",
        )];
        let md = render(&comment(&breaks, &fixes, &present, &errors));
        assert!(md.chars().count() <= MAX_CHARS, "{}", md.chars().count());
        assert!(md.len() <= MAX_CHARS);
        // What is shown plus what was cut is everything, per section; the small ones are whole.
        let shown_breaks = md.matches("**BLOCK**").count();
        assert!(shown_breaks > 0);
        assert_eq!(shown_breaks + cut(&md, "### Breaks (3000)"), 3_000);
        let shown_present = md.matches("- **warn**").count() - 5;
        assert!(shown_present > 0);
        assert_eq!(
            shown_present + cut(&md, "Already present at the base (10000)"),
            10_000
        );
        assert_eq!(cut(&md, "Fixes (5)"), 0);
        assert!(md.contains("kustomize failed"));
        assert!(md.contains(
            "**3000 new** (3000 block, 0 warn, 0 info) · **5 fixed** · 10000 already present"
        ));
        // Each value is bounded, so no single finding crowds out the rest.
        assert!(md.contains(&format!("<code>{}…</code>", "x".repeat(MAX_VALUE))));
        assert!(!md.contains(&"x".repeat(MAX_MESSAGE + 1)));
    }

    #[test]
    fn hostile_values_neither_inject_html_nor_break_the_layout() {
        let hostile = "a|b`c`<script>alert(1)</script></details><img src=x onerror=alert(1)>\n| x | y |\n**bold** [link](http://evil) \\| $math$";
        let mut f = finding(1, Severity::Block, hostile);
        f.service = "</details><b>svc</b>".into();
        f.envs.push("<env>|".into());
        f.values.insert("<env>|".into(), hostile.into());
        f.field = "a|`b`".into();
        let mut p = finding(2, Severity::Warn, hostile);
        p.name = "</details>`name`|".into();
        let errors = vec![CheckError::of(
            "s</details>",
            "e|`",
            crate::codes::ErrorKind::Render,
            hostile,
        )];
        let breaks = [f];
        let present = [p];
        let md = render(&comment(&breaks, &present, &present, &errors));
        for tag in ["<script", "<img", "</script", "<b>", "<env>"] {
            assert!(!md.contains(tag), "{tag} in\n{md}");
        }
        // Only our own `<details>` open and close.
        assert_eq!(md.matches("<details>").count(), 2, "{md}");
        assert_eq!(md.matches("</details>").count(), 2, "{md}");
        // No backtick but the headline's commit.
        assert_eq!(md.matches('`').count(), 2, "{md}");
        // The values table: every row has as many cells as the header, and the hostile value's line break
        // did not start a row of its own.
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(table.len(), 3, "{md}");
        let cells = |l: &str| l.matches('|').count() - l.matches("\\|").count();
        assert!(table.iter().all(|l| cells(l) == 5), "{table:#?}");
        assert!(md.contains("a&#124;b&#96;c&#96;&lt;script&gt;"), "{md}");
        assert!(md.contains("\\*\\*bold\\*\\* \\[link\\](http://evil) \\\\&#124; \\$math\\$"));
    }

    #[test]
    fn without_a_base_everything_is_already_there() {
        let findings = vec![
            finding(1, Severity::Block, "2Gi"),
            finding(2, Severity::Info, "2Gi"),
        ];
        let report = Report {
            version: 1,
            commit: None,
            summary: crate::finding::Summary::of(&findings),
            findings,
            errors: Vec::new(),
            suppressed: Vec::new(),
            warnings: Vec::new(),
            envs: Vec::new(),
            services: Vec::new(),
            overlays: Vec::new(),
            metrics: Vec::new(),
            views: Vec::new(),
        };
        let md = render(&Comment::of_report(&report));
        assert!(
            md.starts_with(
                "## envparity: ❌ 1 blocking finding(s)\n\n**1 block**, 0 warn, 1 info\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("<details><summary>Findings (2)</summary>"),
            "{md}"
        );
        assert!(!md.contains("Breaks") && !md.contains("Fixes") && !md.contains("Policy"));
    }
}
