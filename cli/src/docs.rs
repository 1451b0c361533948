//! The option reference, generated from the option declarations (never written by hand).

use std::fmt::Write as _;

use headrace_sdk::factory::ConnectorFactory;
use headrace_sdk::format::FormatFactory;
use headrace_sdk::options::{OptionDescriptor, OptionSet};
use headrace_sdk::registry::Registry;
use serde_json::{json, Value};

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn option_rows(out: &mut String, set: &OptionSet, prefix: &str) {
    let _ = writeln!(out, "| Key | Required | Default | Type | Description |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let row = |out: &mut String, o: &OptionDescriptor, required: bool| {
        let mut desc = md_escape(o.description);
        if !o.allowed_values.is_empty() {
            let _ = write!(
                desc,
                " Values: {}.",
                o.allowed_values
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !o.fallback_keys.is_empty() {
            let _ = write!(
                desc,
                " Falls back to: {}.",
                o.fallback_keys
                    .iter()
                    .map(|v| format!("`{prefix}{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !o.deprecated_keys.is_empty() {
            let _ = write!(
                desc,
                " Deprecated keys: {}.",
                o.deprecated_keys
                    .iter()
                    .map(|v| format!("`{prefix}{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "| `{prefix}{}` | {} | {} | {} | {} |",
            o.key,
            if required { "yes" } else { "no" },
            o.default
                .map(|d| format!("`{}`", md_escape(d)))
                .unwrap_or_else(|| "(none)".into()),
            o.type_name,
            desc
        );
    };
    for o in &set.required {
        row(out, o, true);
    }
    for o in &set.optional {
        row(out, o, false);
    }
    for t in &set.templates {
        row(out, &t.option, false);
    }
    for p in &set.prefixes {
        let _ = writeln!(
            out,
            "| `{prefix}{}*` | no | (none) | String | {} |",
            p.prefix,
            md_escape(p.description)
        );
    }
}

/// The Markdown page of one connector.
pub fn connector_markdown(f: &dyn ConnectorFactory) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Connector `{}`\n", f.identifier());
    let _ = writeln!(out, "{}\n", f.description());
    let kinds = match (f.supports_source(), f.supports_sink()) {
        (true, true) => "source and sink",
        (true, false) => "source",
        (false, true) => "sink",
        _ => "neither source nor sink",
    };
    let _ = writeln!(out, "Usable as: {kinds}.\n");
    let set = f.options();
    let _ = writeln!(
        out,
        "```sql\nCREATE TABLE t (\n  ...\n) WITH (\n  'connector' = '{}'",
        f.identifier()
    );
    for o in &set.required {
        let _ = writeln!(out, "  , '{}' = '...'", o.key);
    }
    let _ = writeln!(out, ");\n```\n");
    let _ = writeln!(out, "## Options\n");
    option_rows(&mut out, &set, "");
    let slots = f.format_slots();
    if !slots.is_empty() {
        let _ = writeln!(out, "\n## Formats\n");
        for s in slots {
            let d = s.option.descriptor();
            let _ = writeln!(
                out,
                "- `{}` chooses a format; its options are prefixed with `{}<format>.`.",
                d.key,
                d.key.strip_suffix("format").unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Bad records (Headrace extension)\n\nAccepted by every connector; see \
         [bad records and dead-letter tables](../bad-records.md).\n"
    );
    option_rows(&mut out, &headrace_sdk::bad_records::options(), "");
    let meta = f.metadata();
    if !meta.is_empty() {
        let _ = writeln!(out, "\n## Metadata\n");
        let _ = writeln!(out, "| Key | Type | Read | Write | Description |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for m in meta {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} |",
                m.key,
                m.data_type,
                if m.readable { "yes" } else { "no" },
                if m.writable { "yes" } else { "no" },
                md_escape(m.description)
            );
        }
    }
    out
}

/// The Markdown page of one format.
pub fn format_markdown(f: &dyn FormatFactory) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Format `{}`\n", f.identifier());
    let _ = writeln!(out, "{}\n", f.description());
    let _ = writeln!(
        out,
        "Options are written with the format's prefix, e.g. `'{}.<key>'`; with `key.format` or \
         `value.format` they take the `key.` or `value.` prefix too.\n",
        f.identifier()
    );
    let _ = writeln!(out, "## Options\n");
    option_rows(&mut out, &f.options(), &format!("{}.", f.identifier()));
    out
}

/// The index page listing every connector and format.
pub fn index_markdown(r: &Registry) -> String {
    let mut out = String::from(
        "# Connector and format reference\n\nGenerated by `headrace connectors --format md --out-dir docs/connectors` \
         from the option declarations; do not edit by hand.\n\n## Connectors\n\n",
    );
    for c in r.connectors() {
        let _ = writeln!(
            out,
            "- [`{0}`](connector-{0}.md): {1}",
            c.identifier(),
            c.description()
        );
    }
    out.push_str("\n## Formats\n\n");
    let mut any = false;
    for f in r.formats() {
        any = true;
        let _ = writeln!(
            out,
            "- [`{0}`](format-{0}.md): {1}",
            f.identifier(),
            f.description()
        );
    }
    if !any {
        out.push_str("(none registered yet)\n");
    }
    out
}

/// Every page as (file name, contents).
pub fn pages(r: &Registry) -> Vec<(String, String)> {
    let mut v = vec![("README.md".to_string(), index_markdown(r))];
    for c in r.connectors() {
        v.push((
            format!("connector-{}.md", c.identifier()),
            connector_markdown(c.as_ref()),
        ));
    }
    for f in r.formats() {
        v.push((
            format!("format-{}.md", f.identifier()),
            format_markdown(f.as_ref()),
        ));
    }
    v
}

fn options_json(set: &OptionSet) -> Value {
    let one = |o: &OptionDescriptor, required: bool| {
        json!({
            "key": o.key,
            "required": required,
            "type": o.type_name,
            "default": o.default,
            "description": o.description,
            "fallback_keys": o.fallback_keys,
            "deprecated_keys": o.deprecated_keys,
            "allowed_values": o.allowed_values,
        })
    };
    let mut v: Vec<Value> = set.required.iter().map(|o| one(o, true)).collect();
    v.extend(set.optional.iter().map(|o| one(o, false)));
    v.extend(set.templates.iter().map(|t| {
        let mut j = one(&t.option, false);
        j["template"] = json!(true);
        j
    }));
    v.extend(set.prefixes.iter().map(|p| {
        json!({"key": format!("{}*", p.prefix), "prefix": p.prefix, "required": false,
               "type": "String", "default": null, "description": p.description})
    }));
    Value::Array(v)
}

/// Everything as JSON (for generators such as the Python wrappers).
pub fn registry_json(r: &Registry) -> Value {
    json!({
        "connectors": r.connectors().map(|c| json!({
            "identifier": c.identifier(),
            "description": c.description(),
            "source": c.supports_source(),
            "sink": c.supports_sink(),
            "options": options_json(&c.options()),
            "format_slots": c.format_slots().iter().map(|s| s.option.key()).collect::<Vec<_>>(),
            "metadata": c.metadata().iter().map(|m| json!({
                "key": m.key, "type": m.data_type, "description": m.description,
                "readable": m.readable, "writable": m.writable,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        // options every connector accepts besides its own (the bad-record policy)
        "common_options": options_json(&headrace_sdk::bad_records::options()),
        "formats": r.formats().map(|f| json!({
            "identifier": f.identifier(),
            "description": f.description(),
            "options": options_json(&f.options()),
        })).collect::<Vec<_>>(),
    })
}
