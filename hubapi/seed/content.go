package seed

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"
)

// ContentStore receives the contents of seeded documents. hubapi/blob.Dir
// is one.
type ContentStore interface {
	// Put stores r under key (at most maxBytes).
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (int64, string, error)
	// Link makes the content of from available under to as well.
	Link(ctx context.Context, from, to string) error
}

// placeholder is the content every seeded document of one format shares: a
// small valid file of that type saying it is demonstration data.
type placeholder struct {
	content []byte
	sha256  string
	key     string // blob key of the shared copy: its SHA-256
}

// placeholders by file extension (the keys of documentFormats).
var placeholders = func() map[string]placeholder {
	m := map[string]placeholder{}
	for ext, make := range map[string]func() []byte{
		"pdf": placeholderPDF, "png": placeholderPNG, "jpg": placeholderJPEG,
		"docx": placeholderDOCX, "xlsx": placeholderXLSX, "dwg": placeholderDWG,
	} {
		b := make()
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		m[ext] = placeholder{content: b, sha256: h, key: h}
	}
	return m
}()

const placeholderText = "Hub Chantier - document de demonstration (contenu fictif)"

// placeholderPDF is a one-page PDF 1.4 showing placeholderText.
func placeholderPDF() []byte {
	stream := "BT /F1 14 Tf 72 770 Td (" + placeholderText + ") Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// placeholderImage is a 32×24 grey gradient with a diagonal stripe.
func placeholderImage() image.Image {
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			v := uint8(96 + 4*x) // #nosec G115 -- at most 220
			if x-y >= 4 && x-y < 8 {
				v = 40
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return img
}

func placeholderPNG() []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, placeholderImage())
	return b.Bytes()
}

func placeholderJPEG() []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, placeholderImage(), &jpeg.Options{Quality: 75})
	return b.Bytes()
}

// placeholderDWG is not a drawing (the format is closed): the version magic
// of AutoCAD 2018 files followed by placeholderText.
func placeholderDWG() []byte {
	return []byte("AC1032\x00\x00\x00\x00\x00" + placeholderText + "\n")
}

// ooxml builds a minimal Office Open XML package (ECMA-376 part 2) from
// its parts, with fixed times so the bytes never change.
func ooxml(parts [][2]string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, p := range parts {
		w, _ := z.CreateHeader(&zip.FileHeader{Name: p[0], Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		_, _ = io.WriteString(w, p[1])
	}
	_ = z.Close()
	return b.Bytes()
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

func placeholderDOCX() []byte {
	return ooxml([][2]string{
		{"[Content_Types].xml", xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", xmlHeader + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/document.xml", xmlHeader + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>` + placeholderText + `</w:t></w:r></w:p></w:body></w:document>`},
	})
}

func placeholderXLSX() []byte {
	return ooxml([][2]string{
		{"[Content_Types].xml", xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`},
		{"_rels/.rels", xmlHeader + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xmlHeader + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", xmlHeader + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", xmlHeader + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>` + placeholderText + `</t></is></c></row></sheetData></worksheet>`},
	})
}

// placeholderFor returns the placeholder of a document row.
func placeholderFor(d *documentRow) placeholder {
	return placeholders[documentTemplates[d.tpl].ext]
}

// storeContents writes each placeholder once, then links every document's
// storage key to the placeholder of its format (in parallel: one link is
// one system call or two).
func storeContents(ctx context.Context, cs ContentStore, docs []documentRow, idBase int64) error {
	for _, p := range placeholders {
		if _, _, err := cs.Put(ctx, p.key, bytes.NewReader(p.content), int64(len(p.content))); err != nil {
			return fmt.Errorf("seed: storing document contents: %w", err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	workers := max(runtime.GOMAXPROCS(0), 2)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(docs); i += workers {
				if i&0xff == 0 {
					if err := gctx.Err(); err != nil {
						return err
					}
				}
				if err := cs.Link(gctx, placeholderFor(&docs[i]).key, documentKey(idBase+int64(i)+1)); err != nil {
					return fmt.Errorf("seed: storing document contents: %w", err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
