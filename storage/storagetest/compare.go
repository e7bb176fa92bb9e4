package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// fieldDiffs lists the fields of two values of one struct type that differ. Times
// are compared as instants to the microsecond; nil and empty slices are equal.
func fieldDiffs(want, got any) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var diffs []string
	for i := range wv.NumField() {
		w, g := wv.Field(i), gv.Field(i)
		if !sameValue(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", wv.Type().Field(i).Name, describeValue(w), describeValue(g)))
		}
	}
	return diffs
}

func sameValue(w, g reflect.Value) bool {
	switch {
	case w.Type() == timeType:
		return normalTime(w.Interface().(time.Time)).Equal(normalTime(g.Interface().(time.Time)))
	case w.Kind() == reflect.Slice && w.Len() == 0:
		return g.Len() == 0
	default:
		return reflect.DeepEqual(w.Interface(), g.Interface())
	}
}

func normalTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func describeValue(v reflect.Value) string {
	switch {
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return "zero time"
		}
		return normalTime(t).Format(time.RFC3339Nano)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return fmt.Sprintf("%q", v.Bytes())
	case v.Kind() == reflect.Slice && v.Len() == 0:
		return "[]"
	default:
		return fmt.Sprintf("%q", fmt.Sprint(v.Interface()))
	}
}

// describe renders a stored value so that two renderings are equal exactly when
// fieldDiffs finds no difference.
func describe(v any) string {
	rv := reflect.ValueOf(v)
	fields := make([]string, rv.NumField())
	for i := range rv.NumField() {
		fields[i] = rv.Type().Field(i).Name + "=" + describeValue(rv.Field(i))
	}
	return rv.Type().Name() + "{" + strings.Join(fields, " ") + "}"
}

// assertSame fails t unless got has the fields of want.
func assertSame[T any](t testing.TB, what string, want, got T) {
	t.Helper()
	if diffs := fieldDiffs(want, got); len(diffs) > 0 {
		t.Errorf("%s differs from what was stored:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// assertSameList fails t unless got holds the values of want in the same order.
func assertSameList[T any](t testing.TB, what string, want, got []T) {
	t.Helper()
	wantText, gotText := describeAll(want), describeAll(got)
	if !reflect.DeepEqual(wantText, gotText) {
		t.Errorf("%s:\nwant %d:\n  %s\ngot %d:\n  %s", what,
			len(want), strings.Join(wantText, "\n  "), len(got), strings.Join(gotText, "\n  "))
	}
}

func describeAll[T any](values []T) []string {
	text := make([]string, len(values))
	for i, v := range values {
		text[i] = describe(v)
	}
	return text
}

// must fails t at once when err is not nil.
func must(t testing.TB, err error, call string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// mustBe fails t unless errors.Is(err, want).
func mustBe(t testing.TB, err, want error, call string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", call, err, want)
	}
}
