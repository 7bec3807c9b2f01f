package tmpl

import (
	"bytes"
	"fmt"
)

// LegacyTags maps the original tool's {name} tags to ehos's <name> tags.
// {password} is missing on purpose: see ConvertLegacy.
var LegacyTags = map[string]string{
	"master_ip":  "host_ip",
	"host_ip":    "host_ip",
	"uid_domain": "uid_domain",
}

// Warning is something ConvertLegacy changed or left that the admin should
// look at.
type Warning struct {
	Pos Pos
	Msg string
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

const passwordRefusal = "{password} is not supported: ehos never puts the pool password (or any signing key) into user-data, " +
	"where anyone who can read the VM's metadata could take it. Each worker instead gets its own IDTOKEN, " +
	"minted by the provisioner when it creates the VM, scoped to ADVERTISE_STARTD, ADVERTISE_MASTER and READ, " +
	"and written by cloudinit/worker.yaml to <token_file> from the <worker_token> tag. " +
	"Remove the password lines (e.g. condor_store_cred) and start from the shipped worker.yaml"

// ConvertLegacy rewrites a template of the original tool ({master_ip}-style
// tags, replaced as plain text, unknown ones left alone) into ehos's syntax.
// Every converted tag gives a warning with its position. Text that would read
// as a tag in the new syntax (<name>, <<name>>) is escaped so it renders as
// before. {name} that is not a known tag is left as it is, as the original
// did, with a warning. {password} is refused: the error explains the token
// mechanism that replaces it. file names the source in positions.
func ConvertLegacy(file string, src []byte) (converted []byte, warnings []Warning, err error) {
	li := newLineIndex(file, src)
	var errs ErrorList
	var out bytes.Buffer
	// First pass: escape what the new syntax would read as tags or escapes.
	for _, tk := range scan(src) {
		switch tk.kind {
		case tokText:
			out.WriteString(tk.text)
		case tokTag:
			out.WriteString("<<" + tk.text + ">>")
			warnings = append(warnings, Warning{Pos: li.pos(tk.offset), Msg: fmt.Sprintf("literal <%s> escaped as <<%s>> (in ehos templates <%s> is a tag)", tk.text, tk.text, tk.text)})
		case tokEscape:
			out.WriteString("<<<" + tk.text + ">>>")
			warnings = append(warnings, Warning{Pos: li.pos(tk.offset), Msg: fmt.Sprintf("literal <<%s>> escaped as <<<%s>>>", tk.text, tk.text)})
		}
	}
	// Second pass: {name} → <name>. Escaping above never adds braces, but it
	// moves offsets, so positions come from a scan of the original.
	type legacyUse struct {
		name   string
		offset int
	}
	var uses []legacyUse
	for i := 0; i < len(src); i++ {
		if src[i] != '{' {
			continue
		}
		if n := nameAt(src, i+1); n > 0 && i+1+n < len(src) && src[i+1+n] == '}' {
			uses = append(uses, legacyUse{string(src[i+1 : i+1+n]), i})
			i += n + 1
		}
	}
	escaped := out.Bytes()
	var res bytes.Buffer
	last := 0
	for _, u := range uses {
		pos := li.pos(u.offset)
		old := "{" + u.name + "}"
		if u.name == "password" {
			errs = append(errs, &Error{Pos: pos, Tag: "password", Msg: passwordRefusal})
			continue
		}
		nw, ok := LegacyTags[u.name]
		if !ok && IsBuiltin(u.name) {
			nw, ok = u.name, true
		}
		if !ok {
			if u.offset == 0 || src[u.offset-1] != '$' {
				warnings = append(warnings, Warning{Pos: pos, Msg: fmt.Sprintf("%s left as it is: not a tag of the original tool or of ehos (if it is yours, write <%s> and define it under template_vars:)", old, u.name)})
			}
			continue
		}
		// Find this occurrence in the escaped text: escaping only touched
		// <...> runs, so the k-th "{name}" is still in order after last.
		k := bytes.Index(escaped[last:], []byte(old))
		if k < 0 {
			continue // cannot happen: braces are never touched by escaping
		}
		res.Write(escaped[last : last+k])
		res.WriteString("<" + nw + ">")
		last += k + len(old)
		msg := fmt.Sprintf("%s converted to <%s>", old, nw)
		if nw != u.name {
			msg += fmt.Sprintf(" (renamed: %s)", Builtin[nw])
		}
		warnings = append(warnings, Warning{Pos: pos, Msg: msg})
	}
	res.Write(escaped[last:])
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	sortWarnings(warnings)
	return res.Bytes(), warnings, nil
}

func sortWarnings(w []Warning) {
	for i := 1; i < len(w); i++ {
		for j := i; j > 0 && w[j].Pos.Offset < w[j-1].Pos.Offset; j-- {
			w[j], w[j-1] = w[j-1], w[j]
		}
	}
}
