// Package tmpl renders ehos's cloud-init templates: files in which tags like
// <host_ip> stand for values ehos fills in.
//
// Substitution is strict. A tag is '<' + a lower-case letter + lower-case
// letters, digits or '_' + '>'. A tag whose name has no value is an error
// naming FILE:LINE:COL, and every such error in a file is reported at once.
// Anything else that merely looks like markup (<1>, <Foo>, "a < b") is plain
// text. To write a literal tag, double the brackets: <<file>> renders as
// <file>.
//
// A value is inserted as text, so it must not change the YAML it lands in:
// values holding control characters (a newline above all) are refused, and
// after substitution the document must have the same YAML shape as the
// template, with each affected scalar holding exactly the text it would hold
// with the value in it (so a value with ": " in a plain scalar, or a '"' in a
// double-quoted one, is refused with the tag's position). Quote the tag in the
// template, or use a block scalar, to carry such values.
//
// The rendered file must start with #cloud-config, parse as YAML and fit
// Nova's user-data limit (65,535 bytes once base64-encoded).
//
// The package does no I/O beyond what its caller hands it (an fs.FS for
// template lookup) and knows nothing of clouds or HTCondor tools.
package tmpl
