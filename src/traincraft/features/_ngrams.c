/* Hashed word and character n-gram counts of many texts: the compiled hot loop of
 * traincraft.features.text.
 *
 * count(texts, word_low, word_high, char_low, char_high, buckets) tokenises each text (a str,
 * already lowercased when the encoder lowercases) and counts its hashed n-grams exactly as the
 * numpy path of text.py does, which itself equals scikit-learn's HashingVectorizer bit for bit:
 *
 *   word n-grams  tokens are the maximal runs of word characters (re's "\w": str.isalnum() or
 *                 "_"); an n-gram is n consecutive tokens joined by single spaces.
 *   char n-grams  ("char_wb") each whitespace-separated word (str.split()) padded with a space
 *                 on both sides; its windows of each length n in [char_low, char_high] shorter
 *                 than the padded word, and the padded word once when it is no longer than n.
 *   hash          MurmurHash3_x86_32, seed 0, of the n-gram's UTF-8 bytes, as a signed int32;
 *                 the bucket is abs(hash) % buckets (scikit-learn's FeatureHasher).
 *
 * It gives two count matrices, (texts, buckets) each, in canonical CSR form (columns sorted
 * within a row, no duplicates): (indptr int64, indices int32, counts float32) as bytearrays,
 * for the word part and the char part (None for the char part when char_low is 0). The float
 * arithmetic that follows (sublinear tf, L2 norm, the sum) stays in numpy, so the encoder's
 * output is the numpy path's bit for bit; tests/features/test_text_compiled.py compares them.
 *
 * A row's buckets are collected, radix-sorted and counted: a few KiB that stay in the L1 cache
 * (a dense counter per bucket was twice as slow: 1 MiB of counters missed the cache on every
 * n-gram). Bucket numbers are written as int32, so buckets is at most MAX_BUCKETS (2**31).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NGRAMS_VERSION 1            /* text.py refuses a build of another version (a stale .so) */
#define MAX_BUCKETS 2147483648LL   /* 2**31: bucket numbers (below it) fit int32 */
#define IS_WORD 1
#define IS_SPACE 2

/* ---- MurmurHash3_x86_32 (Austin Appleby's reference, public domain), little-endian reads --- */

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t read32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int32_t murmur3_32(const unsigned char *data, Py_ssize_t len) {
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = 0; /* seed 0 */
    Py_ssize_t nblocks = len / 4;
    for (Py_ssize_t i = 0; i < nblocks; i++) {
        uint32_t k = read32(data + 4 * i);
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = data + 4 * nblocks;
    uint32_t k = 0;
    switch (len & 3) {
    case 3: k ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return (int32_t)h;
}

/* ---- growable arrays ----------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t size, capacity, item; /* in items; item = bytes per item */
} Array;

static int reserve(Array *a, size_t items) {
    if (items <= a->capacity) return 0;
    size_t capacity = a->capacity ? a->capacity : 256;
    while (capacity < items) capacity *= 2;
    char *data = realloc(a->data, capacity * a->item);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    a->data = data;
    a->capacity = capacity;
    return 0;
}

#define AT(a, type) ((type *)(a).data)

/* ---- one count matrix: the current row's buckets, and the CSR rows so far -------------------- */

typedef struct {
    long long buckets;
    uint32_t mask; /* buckets - 1 when buckets is a power of two (a mask, not a division), else 0 */
    int passes;    /* 8-bit radix passes that sort bucket numbers (they have at most 8 * passes bits) */
    Array row, spare;              /* uint32: the current row's bucket of each n-gram; scratch for the sort */
    Array indptr, indices, counts; /* int64, int32, float32 */
} Counter;

static int counter_init(Counter *c, long long buckets) {
    memset(c, 0, sizeof *c);
    c->buckets = buckets;
    c->mask = (buckets & (buckets - 1)) == 0 ? (uint32_t)(buckets - 1) : 0;
    c->passes = 1;
    while (c->passes < 4 && ((uint64_t)(buckets - 1) >> (8 * c->passes)) != 0) c->passes++;
    c->row.item = c->spare.item = sizeof(uint32_t);
    c->indptr.item = sizeof(int64_t);
    c->indices.item = sizeof(int32_t);
    c->counts.item = sizeof(float);
    if (reserve(&c->row, 1024) < 0 || reserve(&c->indptr, 1) < 0) return -1;
    AT(c->indptr, int64_t)[0] = 0;
    c->indptr.size = 1;
    return 0;
}

static void counter_free(Counter *c) {
    free(c->row.data);
    free(c->spare.data);
    free(c->indptr.data);
    free(c->indices.data);
    free(c->counts.data);
}

/* Room for `more` buckets in the current row (add() does not check). */
static inline int room(Counter *c, size_t more) { return reserve(&c->row, c->row.size + more); }

static inline void add(Counter *c, int32_t hash) {
    uint32_t magnitude = hash < 0 ? 0u - (uint32_t)hash : (uint32_t)hash; /* abs, 2**31 included */
    AT(c->row, uint32_t)[c->row.size++] = c->mask ? magnitude & c->mask : magnitude % (uint32_t)c->buckets;
}

/* Sort keys[0:n] ascending (spare: n more); returns where the sorted keys are, keys or spare. */
static uint32_t *sort_keys(uint32_t *keys, uint32_t *spare, size_t n, int passes) {
    if (n <= 32) { /* insertion sort: short rows (a text's word n-grams) */
        for (size_t i = 1; i < n; i++) {
            uint32_t key = keys[i];
            size_t j = i;
            for (; j > 0 && keys[j - 1] > key; j--) keys[j] = keys[j - 1];
            keys[j] = key;
        }
        return keys;
    }
    uint32_t histogram[4][256];
    memset(histogram, 0, sizeof(uint32_t) * 256 * (size_t)passes);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < passes; p++) histogram[p][(keys[i] >> (8 * p)) & 0xFF]++;
    for (int p = 0; p < passes; p++) { /* least significant digit first: stable, so sorted at the end */
        int shift = 8 * p;
        if (histogram[p][(keys[0] >> shift) & 0xFF] == n) continue; /* one digit for all: nothing to move */
        uint32_t at = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t here = histogram[p][d];
            histogram[p][d] = at;
            at += here;
        }
        for (size_t i = 0; i < n; i++) spare[histogram[p][(keys[i] >> shift) & 0xFF]++] = keys[i];
        uint32_t *swap = keys;
        keys = spare;
        spare = swap;
    }
    return keys;
}

/* Append the current row (its distinct buckets, ascending, and their counts) and start the next. */
static int end_row(Counter *c) {
    size_t n = c->row.size;
    if (reserve(&c->spare, n) < 0 || reserve(&c->indices, c->indices.size + n) < 0 || reserve(&c->counts, c->counts.size + n) < 0 ||
        reserve(&c->indptr, c->indptr.size + 1) < 0)
        return -1;
    const uint32_t *sorted = sort_keys(AT(c->row, uint32_t), AT(c->spare, uint32_t), n, c->passes);
    int32_t *indices = AT(c->indices, int32_t);
    float *counts = AT(c->counts, float);
    size_t out = c->indices.size;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && sorted[j] == sorted[i]) j++;
        indices[out] = (int32_t)sorted[i];
        counts[out++] = (float)(j - i); /* exact below 2**24 repeats of one n-gram in one text */
        i = j;
    }
    c->indices.size = c->counts.size = out;
    AT(c->indptr, int64_t)[c->indptr.size++] = (int64_t)out;
    c->row.size = 0;
    return 0;
}

static PyObject *as_bytearray(const Array *a) {
    return PyByteArray_FromStringAndSize(a->data ? a->data : "", (Py_ssize_t)(a->size * a->item));
}

/* ---- one text -------------------------------------------------------------------------------- */

typedef struct {
    Array offset; /* Py_ssize_t (chars + 1,): UTF-8 offset of each char */
    Array kind;   /* unsigned char (chars,): IS_WORD | IS_SPACE */
    Array stream; /* unsigned char: the tokens joined by spaces, or one padded word */
    Array token;  /* Py_ssize_t pairs: (start in stream, bytes) of each token */
    Array padded; /* Py_ssize_t: offset in stream of each char of the padded word, and its end */
} Scratch;

static unsigned char kind_of(Py_UCS4 ch) {
    return (unsigned char)(((Py_UNICODE_ISALNUM(ch) || ch == '_') ? IS_WORD : 0) | (Py_UNICODE_ISSPACE(ch) ? IS_SPACE : 0));
}

/* Decode the text's UTF-8 (valid: it came from a str) into char offsets and classes. */
static Py_ssize_t classify(Scratch *s, const unsigned char *utf8, Py_ssize_t len) {
    static unsigned char ascii_kind[128];
    static int ascii_ready = 0;
    if (!ascii_ready) {
        for (int ch = 0; ch < 128; ch++) ascii_kind[ch] = kind_of((Py_UCS4)ch);
        ascii_ready = 1;
    }
    if (reserve(&s->offset, (size_t)len + 1) < 0 || reserve(&s->kind, (size_t)len) < 0) return -1;
    Py_ssize_t *offset = AT(s->offset, Py_ssize_t);
    unsigned char *kind = AT(s->kind, unsigned char);
    Py_ssize_t chars = 0, i = 0;
    while (i < len) {
        unsigned char b = utf8[i];
        Py_UCS4 ch;
        int width;
        if (b < 0x80) {
            offset[chars] = i;
            kind[chars++] = ascii_kind[b];
            i++;
            continue;
        }
        if (b < 0xE0) {
            ch = b & 0x1F;
            width = 2;
        } else if (b < 0xF0) {
            ch = b & 0x0F;
            width = 3;
        } else {
            ch = b & 0x07;
            width = 4;
        }
        for (int k = 1; k < width; k++) ch = (ch << 6) | (utf8[i + k] & 0x3F);
        offset[chars] = i;
        kind[chars++] = kind_of(ch);
        i += width;
    }
    offset[chars] = len;
    return chars;
}

static int word_ngrams(Scratch *s, Counter *c, const unsigned char *utf8, Py_ssize_t chars, int low, int high) {
    const Py_ssize_t *offset = AT(s->offset, Py_ssize_t);
    const unsigned char *kind = AT(s->kind, unsigned char);
    s->stream.size = 0;
    s->token.size = 0;
    Py_ssize_t i = 0;
    while (i < chars) {
        if (!(kind[i] & IS_WORD)) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < chars && (kind[i] & IS_WORD)) i++;
        Py_ssize_t bytes = offset[i] - offset[start];
        if (reserve(&s->stream, s->stream.size + (size_t)bytes + 1) < 0 || reserve(&s->token, s->token.size + 2) < 0) return -1;
        unsigned char *stream = AT(s->stream, unsigned char);
        Py_ssize_t *token = AT(s->token, Py_ssize_t);
        token[s->token.size++] = (Py_ssize_t)s->stream.size;
        token[s->token.size++] = bytes;
        memcpy(stream + s->stream.size, utf8 + offset[start], (size_t)bytes);
        s->stream.size += (size_t)bytes;
        stream[s->stream.size++] = ' ';
    }
    const unsigned char *stream = AT(s->stream, unsigned char);
    const Py_ssize_t *token = AT(s->token, Py_ssize_t);
    Py_ssize_t tokens = (Py_ssize_t)s->token.size / 2;
    if (room(c, (size_t)tokens * (size_t)(high - low + 1)) < 0) return -1;
    for (int n = low; n <= high; n++) {
        for (Py_ssize_t t = 0; t + n <= tokens; t++) {
            Py_ssize_t begin = token[2 * t], last = t + n - 1;
            add(c, murmur3_32(stream + begin, token[2 * last] + token[2 * last + 1] - begin));
        }
    }
    return 0;
}

static int char_ngrams(Scratch *s, Counter *c, const unsigned char *utf8, Py_ssize_t chars, int low, int high) {
    const Py_ssize_t *offset = AT(s->offset, Py_ssize_t);
    const unsigned char *kind = AT(s->kind, unsigned char);
    Py_ssize_t i = 0;
    while (i < chars) {
        if (kind[i] & IS_SPACE) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < chars && !(kind[i] & IS_SPACE)) i++;
        Py_ssize_t size = i - start + 2; /* chars of " word " */
        Py_ssize_t bytes = offset[i] - offset[start];
        if (reserve(&s->stream, (size_t)bytes + 2) < 0 || reserve(&s->padded, (size_t)size + 1) < 0) return -1;
        unsigned char *stream = AT(s->stream, unsigned char);
        Py_ssize_t *padded = AT(s->padded, Py_ssize_t);
        stream[0] = ' ';
        memcpy(stream + 1, utf8 + offset[start], (size_t)bytes);
        stream[bytes + 1] = ' ';
        padded[0] = 0;
        for (Py_ssize_t k = 0; k <= i - start; k++) padded[k + 1] = 1 + offset[start + k] - offset[start];
        padded[size] = bytes + 2;
        if (room(c, (size_t)size * (size_t)(high - low + 1)) < 0) return -1;
        for (int n = low; n <= high; n++) {
            if (size <= n) { /* the padded word once, and no longer windows */
                add(c, murmur3_32(stream, bytes + 2));
                break;
            }
            for (Py_ssize_t w = 0; w + n <= size; w++) add(c, murmur3_32(stream + padded[w], padded[w + n] - padded[w]));
        }
    }
    return 0;
}

/* ---- the module ------------------------------------------------------------------------------ */

static PyObject *count(PyObject *self, PyObject *args) {
    PyObject *texts;
    int word_low, word_high, char_low, char_high;
    long long buckets;
    if (!PyArg_ParseTuple(args, "O!iiiiL", &PyList_Type, &texts, &word_low, &word_high, &char_low, &char_high, &buckets)) return NULL;
    if (word_low < 1 || word_high < word_low || char_low < 0 || (char_low > 0 && char_high < char_low)) {
        PyErr_SetString(PyExc_ValueError, "n-gram ranges must be 1 <= low <= high (char_low 0: no char n-grams)");
        return NULL;
    }
    if (buckets < 1 || buckets > MAX_BUCKETS) {
        PyErr_Format(PyExc_ValueError, "buckets must be between 1 and %lld, got %lld", MAX_BUCKETS, buckets);
        return NULL;
    }
    Counter words, chars_ = {0};
    Scratch s;
    memset(&s, 0, sizeof s);
    s.offset.item = s.token.item = s.padded.item = sizeof(Py_ssize_t);
    s.kind.item = s.stream.item = 1;
    PyObject *result = NULL;
    int have_chars = char_low > 0;
    if (counter_init(&words, buckets) < 0 || (have_chars && counter_init(&chars_, buckets) < 0)) goto done;

    Py_ssize_t n_texts = PyList_GET_SIZE(texts);
    for (Py_ssize_t t = 0; t < n_texts; t++) {
        PyObject *text = PyList_GET_ITEM(texts, t);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "texts[%zd] is %.100s, not str", t, Py_TYPE(text)->tp_name);
            goto done;
        }
        Py_ssize_t len;
        const unsigned char *utf8 = (const unsigned char *)PyUnicode_AsUTF8AndSize(text, &len); /* lone surrogates: UnicodeEncodeError */
        if (utf8 == NULL) goto done;
        Py_ssize_t n_chars = classify(&s, utf8, len);
        if (n_chars < 0) goto done;
        if (word_ngrams(&s, &words, utf8, n_chars, word_low, word_high) < 0 || end_row(&words) < 0) goto done;
        if (have_chars && (char_ngrams(&s, &chars_, utf8, n_chars, char_low, char_high) < 0 || end_row(&chars_) < 0)) goto done;
    }
    PyObject *parts[6] = {as_bytearray(&words.indptr), as_bytearray(&words.indices), as_bytearray(&words.counts), NULL, NULL, NULL};
    if (have_chars) {
        parts[3] = as_bytearray(&chars_.indptr);
        parts[4] = as_bytearray(&chars_.indices);
        parts[5] = as_bytearray(&chars_.counts);
    } else {
        for (int k = 3; k < 6; k++) parts[k] = Py_NewRef(Py_None);
    }
    int failed = 0;
    for (int k = 0; k < 6; k++) failed |= parts[k] == NULL;
    if (!failed) result = PyTuple_Pack(6, parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]);
    for (int k = 0; k < 6; k++) Py_XDECREF(parts[k]);
done:
    counter_free(&words);
    if (have_chars) counter_free(&chars_);
    free(s.offset.data);
    free(s.kind.data);
    free(s.stream.data);
    free(s.token.data);
    free(s.padded.data);
    return result;
}

static PyMethodDef methods[] = {
    {"count", count, METH_VARARGS,
     "count(texts, word_low, word_high, char_low, char_high, buckets) -> (word indptr, indices, counts, "
     "char indptr, indices, counts): canonical CSR count matrices as bytearrays (int64, int32, float32)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ngrams", "Hashed n-gram counts of texts (see text.py).", -1, methods};

PyMODINIT_FUNC PyInit__ngrams(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *max_buckets = PyLong_FromLongLong(MAX_BUCKETS);
    if (max_buckets == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "VERSION", NGRAMS_VERSION) < 0 || PyModule_AddObjectRef(m, "MAX_BUCKETS", max_buckets) < 0) {
        Py_DECREF(max_buckets);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(max_buckets);
    return m;
}
