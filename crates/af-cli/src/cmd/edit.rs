//! Commands that change a file in place: attrs (of an array, or with `/`
//! of the file itself), compact, vacuum.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

use super::{array_meta, codec_for, layout_of, open_read, print_json};
use crate::args::{AttrAction, AttrsArgs, CompactArgs, VacuumArgs};
use crate::error::usage;
use crate::format::{Table, attr_json, attr_text, human_bytes, parse_attr};
use crate::progress;
use crate::target::Location;
use array_format::{BuiltinCodec, FileConfig};

/// Whose attributes `af attrs` works on.
enum Owner {
    /// An array's (its name).
    Array(String),
    /// The file's own: `af attrs PATH /`.
    File,
}

impl Owner {
    /// `name.key` for an array's attribute, `/key` for the file's.
    fn label(&self, key: &str) -> String {
        match self {
            Owner::Array(name) => format!("{name}.{key}"),
            Owner::File => format!("/{key}"),
        }
    }

    /// What has no attribute `key`, for messages.
    fn missing(&self, key: &str, file: &str) -> anyhow::Error {
        match self {
            Owner::Array(name) => usage(format!("array {name:?} has no attribute {key:?}")),
            Owner::File => usage(format!("{file} has no file attribute {key:?}")),
        }
    }
}

/// The array name that stands for the file's own attributes.
const FILE_OWNER: &str = "/";

/// `af attrs`.
pub async fn attrs(a: AttrsArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let writing = matches!(
        a.action,
        Some(AttrAction::Set { .. } | AttrAction::Rm { .. })
    );
    if writing && a.at.at.is_some() {
        return Err(usage(
            "--at opens an old version, which is read-only; set and rm change the current one",
        ));
    }
    let (loc, mut file) = open_read(&a.path, a.at.at).await?;
    let owner = if a.array == FILE_OWNER {
        Owner::File
    } else {
        Owner::Array(array_meta(&file, &loc, &a.array)?.name)
    };
    match a.action {
        None => {
            let attrs = match &owner {
                Owner::Array(name) => file.attributes(name)?,
                Owner::File => file.file_attributes()?,
            };
            if a.json {
                let v: Vec<_> = attrs
                    .iter()
                    .map(|(k, v)| json!({"key": k, "type": v.type_name(), "value": attr_json(v)}))
                    .collect();
                print_json(out, &serde_json::Value::Array(v))?;
            } else if attrs.is_empty() {
                match &owner {
                    Owner::Array(name) => writeln!(out, "{name} has no attributes")?,
                    Owner::File => writeln!(out, "{} has no file attributes", loc.name)?,
                }
            } else {
                let mut t = Table::new(&[("KEY", false), ("TYPE", false), ("VALUE", false)]);
                for (k, v) in &attrs {
                    t.row(vec![k.clone(), v.type_name().into(), attr_text(v, true)]);
                }
                out.write_all(t.render().as_bytes())?;
            }
        }
        Some(AttrAction::Get { key }) => {
            let v = match &owner {
                Owner::Array(name) => file.get_attribute(name, &key)?,
                Owner::File => file.file_attribute(&key)?,
            }
            .ok_or_else(|| owner.missing(&key, &loc.name))?;
            if a.json {
                print_json(
                    out,
                    &json!({"key": key, "type": v.type_name(), "value": attr_json(v)}),
                )?;
            } else {
                writeln!(out, "{}", attr_text(v, false))?;
            }
        }
        Some(AttrAction::Set { key, value, ty }) => {
            let label = owner.label(&key);
            let v = parse_attr(&value, ty.as_deref())
                .map_err(|e| usage(format!("cannot set {label}: {e}")))?;
            let shown = format!("{} ({})", attr_text(&v, true), v.type_name());
            match &owner {
                Owner::Array(name) => file.set_attribute(name, &key, v)?,
                Owner::File => file.set_file_attribute(&key, v)?,
            }
            file.flush()
                .await
                .with_context(|| format!("cannot commit to {}", loc.name))?;
            writeln!(out, "set {label} = {shown}")?;
        }
        Some(AttrAction::Rm { key }) => {
            let removed = match &owner {
                Owner::Array(name) => file.remove_attribute(name, &key)?,
                Owner::File => file.remove_file_attribute(&key)?,
            };
            if !removed {
                return Err(owner.missing(&key, &loc.name));
            }
            file.flush()
                .await
                .with_context(|| format!("cannot commit to {}", loc.name))?;
            writeln!(out, "removed {}", owner.label(&key))?;
        }
    }
    Ok(0)
}

/// `af compact`.
pub async fn compact(a: CompactArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loc = Location::parse(&a.path)?;
    let probe = loc.open(BuiltinCodec::Lz4, None).await?;
    let codec = codec_for(a.codec, Some(&layout_of(&probe)));
    drop(probe);
    let config = FileConfig {
        retention: a.retention.age,
        ..FileConfig::new(codec)
    };
    let mut file = loc
        .open_with(config)
        .await
        .with_context(|| format!("cannot open {}", loc.name))?;
    let (layers, stored) = (file.num_layers(), file.stored_bytes());
    if layers <= 1 {
        writeln!(out, "{} has a single layer; nothing to compact", loc.name)?;
        return Ok(0);
    }
    let pb = progress::spinner("compacting");
    let r = file.compact().await;
    pb.finish_and_clear();
    r.with_context(|| format!("cannot compact {}", loc.name))?;
    let snapshot = file
        .versions()
        .await
        .ok()
        .and_then(|v| v.iter().rev().find(|v| v.visible).map(|v| v.layer));
    writeln!(
        out,
        "compacted {}: {layers} layers -> {}{}; stored {} -> {}",
        loc.name,
        file.num_layers(),
        snapshot.map_or(String::new(), |s| format!(" (snapshot layer {s})")),
        human_bytes(stored),
        human_bytes(file.stored_bytes())
    )?;
    Ok(0)
}

/// `af vacuum`.
pub async fn vacuum(a: VacuumArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loc = Location::parse(&a.path)?;
    let mut file = loc.open(BuiltinCodec::Lz4, None).await?;
    let report = file
        .vacuum_with(a.retention.age, a.part_grace)
        .await
        .with_context(|| format!("cannot vacuum {}", loc.name))?;
    if report.deleted.is_empty() {
        writeln!(out, "{}: nothing to delete", loc.name)?;
    } else {
        for p in &report.deleted {
            writeln!(out, "deleted {p}")?;
        }
        let n = report.deleted.len();
        let parts = match report.parts {
            0 => String::new(),
            1 => " (1 staged part)".into(),
            p => format!(" ({p} staged parts)"),
        };
        writeln!(
            out,
            "vacuumed {}: {n} object{}{parts}, {}",
            loc.name,
            if n == 1 { "" } else { "s" },
            human_bytes(report.bytes)
        )?;
    }
    Ok(0)
}
