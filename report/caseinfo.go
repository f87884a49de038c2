package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// CaseInfo is who sends the report and the freezing requests, and on
// what authority: the block a compliance desk reads first and answers
// to. It comes from --case-info case.yaml (docs/reports.md); the report
// prints what it holds and never a placeholder.
type CaseInfo struct {
	Reference    string `yaml:"reference" json:"reference,omitempty"`       // the case's reference, e.g. OP-PIG-7
	Agency       string `yaml:"agency" json:"agency,omitempty"`             // the sending agency or firm
	Unit         string `yaml:"unit" json:"unit,omitempty"`                 // its unit or department
	Investigator string `yaml:"investigator" json:"investigator,omitempty"` // who signs
	Title        string `yaml:"title" json:"title,omitempty"`               // the investigator's rank or title
	Email        string `yaml:"email" json:"email,omitempty"`               // where to reply
	Phone        string `yaml:"phone" json:"phone,omitempty"`
	Address      string `yaml:"address" json:"address,omitempty"` // postal address (several lines allowed)
	LegalBasis   string `yaml:"legal_basis" json:"legal_basis,omitempty"`
	Date         string `yaml:"date" json:"date,omitempty"` // the report's date, YYYY-MM-DD (--date overrides)
	// Deadline: by when the exchange is asked to act (free text, e.g.
	// "within 48 hours of receipt").
	Deadline string `yaml:"deadline" json:"deadline,omitempty"`
}

// ReadCaseInfo reads a case-info YAML file. Unknown fields are an error
// naming them, so that a misspelt key is not silently left out of a
// letter.
func ReadCaseInfo(path string) (*CaseInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var ci CaseInfo
	if err := dec.Decode(&ci); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ci.Date != "" {
		if _, err := time.Parse("2006-01-02", ci.Date); err != nil {
			return nil, fmt.Errorf("%s: date %q: want YYYY-MM-DD", path, ci.Date)
		}
	}
	for _, f := range []*string{&ci.Reference, &ci.Agency, &ci.Unit, &ci.Investigator, &ci.Title, &ci.Email, &ci.Phone, &ci.Address, &ci.LegalBasis, &ci.Deadline} {
		*f = strings.TrimSpace(*f)
	}
	return &ci, nil
}

// sender says what a freezing request lacks to be sent: a letter goes
// out only from someone an exchange can answer.
func (ci *CaseInfo) sender() error {
	var miss []string
	if ci == nil {
		return errors.New("no case information (--case-info case.yaml: agency, investigator, email)")
	}
	if ci.Agency == "" {
		miss = append(miss, "agency")
	}
	if ci.Investigator == "" {
		miss = append(miss, "investigator")
	}
	if ci.Email == "" && ci.Phone == "" && ci.Address == "" {
		miss = append(miss, "email, phone or address (where to reply)")
	}
	if len(miss) > 0 {
		return fmt.Errorf("the case information lacks %s", strings.Join(miss, ", "))
	}
	return nil
}

// contact is the reply address on one line each.
func (ci *CaseInfo) contact() []string {
	var out []string
	if ci == nil {
		return nil
	}
	if ci.Email != "" {
		out = append(out, ci.Email)
	}
	if ci.Phone != "" {
		out = append(out, ci.Phone)
	}
	for _, l := range strings.Split(ci.Address, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
