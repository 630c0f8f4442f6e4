//! COPY and ADD: flags, the JSON and whitespace forms, and inline files (heredocs).

use super::error::ParseError;
use super::flags::{Ctx, Kind, parse_flags};
use super::instruction::Copy;
use super::lexer::{LogicalLine, heredoc_marker};
use super::parse::not_strings;
use super::words::{JsonArray, json_array, split_raw};

pub(crate) fn copy(
    ctx: Ctx,
    flags: &[String],
    args: &str,
    escape: char,
    line: &LogicalLine,
) -> Result<Copy, ParseError> {
    let add = ctx.keyword == "ADD";
    let flags = if add {
        let accepted = [
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
        ];
        parse_flags(
            ctx,
            flags,
            &accepted,
            &["checksum", "keep-git-dir", "exclude", "unpack"],
        )?
    } else {
        let accepted = [
            ("from", Kind::String),
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
        ];
        parse_flags(ctx, flags, &accepted, &["parents", "exclude"])?
    };
    let (mut words, json) = match json_array(args) {
        JsonArray::Strings(words) => (words, true),
        JsonArray::NotStrings => return Err(not_strings(ctx)),
        JsonArray::NotJson => (split_raw(args, escape), false),
    };
    let example = if add {
        "ADD app.tar.gz /opt/"
    } else {
        "COPY app /usr/bin/"
    };
    let Some(dest) = words.pop().filter(|_| !words.is_empty()) else {
        return Err(ctx.args("needs at least one source and a destination", example));
    };
    let mut heredocs = line.heredocs.iter();
    let mut copy = Copy {
        add,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        sources: Vec::new(),
        heredocs: Vec::new(),
        dest,
        json,
    };
    if !json && heredoc_marker(&copy.dest, escape).is_some() {
        return Err(ctx.invalid(
            "the destination can't be a heredoc; put the path last, e.g. COPY <<EOF /etc/app.conf",
        ));
    }
    for word in words {
        if !json
            && heredoc_marker(&word, escape).is_some()
            && let Some(heredoc) = heredocs.next()
        {
            copy.heredocs.push(heredoc.clone());
            continue;
        }
        copy.sources.push(word);
    }
    Ok(copy)
}
