package classad

// QuotingCases maps hostile strings to what HTCondor stores when it reads
// them as written by Quote (see Quote for the rules). Exported so the
// integration tests can check the same table against the real tools.
var QuotingCases = map[string]string{
	``:                              ``,
	`plain`:                         `plain`,
	`a "quoted" word`:               `a "quoted" word`,
	`back\slash`:                    `back\slash`,
	`two\\back`:                     `two\\back`,
	`C:\path\to\file`:               `C:\path\to\file`,
	`trailing\`:                     `trailing\134`,
	`two trailing\\`:                `two trailing\134\134`,
	`three before quote \\\" x`:     `three before quote \\\\" x`,
	`slash before quote \" here`:    `slash before quote \\" here`,
	`two slashes then quote \\" ok`: `two slashes then quote \\" ok`,
	"new\nline = injected":          `new\nline = injected`,
	"tab\there":                     `tab\there`,
	"\r\n":                          `\r\n`,
	"ctl\x01\x7f":                   `ctl\001\177`,
	`"; Requirements = True; x = "`: `"; Requirements = True; x = "`,
	"back\\\nnewline":               `back\\nnewline`,
	"unicode ✓ ok":                  "unicode ✓ ok",
	"\\✓":                           "\\✓",
}
