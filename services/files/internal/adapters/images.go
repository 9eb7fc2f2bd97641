package adapters

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // decoders for the types thumbnails are made of
	_ "image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"

	"github.com/acme/platform/services/platform/errs"
)

// Images makes thumbnails: at most Size pixels on the longer side, PNG, made from the decoded pixels
// alone, so no metadata of the original (EXIF, GPS) survives. An image whose header declares more
// than MaxPixels is refused before it is decoded: a small file can declare a huge canvas.
type Images struct {
	Size      int
	MaxPixels int64
}

// Check reads the image's header and refuses a canvas beyond the bound.
func (im Images) Check(r io.Reader) error {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return errs.Invalid("files.image_invalid", "file", "the file says it is an image but its header is not readable")
	}
	if int64(cfg.Width)*int64(cfg.Height) > im.MaxPixels {
		return &errs.Error{Kind: errs.KindUnprocessable, Code: "files.image_too_large", Field: "file",
			Message: fmt.Sprintf("the image declares %d×%d pixels; at most %d are accepted", cfg.Width, cfg.Height, im.MaxPixels)}
	}
	return nil
}

// Thumbnail decodes the image and scales it down.
func (im Images) Thumbnail(r io.Reader) ([]byte, error) {
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > im.Size || h > im.Size {
		if w >= h {
			w, h = im.Size, max(1, h*im.Size/w)
		} else {
			w, h = max(1, w*im.Size/h), im.Size
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
