//! A small ONNX graph writer over `tract_onnx::pb` (ONNX's protobuf types as tract reads
//! them). burn 0.22 cannot export ONNX (its exporter lacks GRU and LayerNorm) and no
//! crate writes ONNX from Rust, so the few operators the model needs are written here:
//! MatMul, Add, LayerNormalization, Relu, GRU, Concat, Sigmoid, Pow, Mul, Softmax,
//! ReduceMean, Reshape, Transpose, Expand. Weights are initializers. Opset 17.

use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension, type_proto};

pub const OPSET: i64 = 17;

/// A dimension of a graph input or output.
#[derive(Debug, Clone)]
pub enum Dim {
    Fixed(usize),
    Named(&'static str),
}

#[derive(Default)]
pub struct Graph {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    inputs: Vec<pb::ValueInfoProto>,
    outputs: Vec<pb::ValueInfoProto>,
    next: usize,
}

fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| pb::tensor_shape_proto::Dimension {
            denotation: String::new(),
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Named(s) => dimension::Value::DimParam(s.to_string()),
            }),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto { denotation: String::new(), value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: DataType::Float as i32, shape: Some(pb::TensorShapeProto { dim }) })) }),
        doc_string: String::new(),
    }
}

pub fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

pub fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}

pub fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: ints.to_vec(), ..Default::default() }
}

impl Graph {
    fn fresh(&mut self, what: &str) -> String {
        self.next += 1;
        format!("{what}_{}", self.next)
    }

    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.inputs.push(value_info(name, dims));
        name.into()
    }

    /// Names `value` as the graph output `name` (through an Identity node).
    pub fn output(&mut self, value: &str, name: &str, dims: &[Dim]) {
        self.nodes.push(pb::NodeProto { input: vec![value.into()], output: vec![name.into()], op_type: "Identity".into(), name: format!("out_{name}"), ..Default::default() });
        self.outputs.push(value_info(name, dims));
    }

    /// A float constant.
    pub fn constant(&mut self, what: &str, dims: &[usize], data: Vec<f32>) -> String {
        assert_eq!(dims.iter().product::<usize>(), data.len(), "{what}: shape and data disagree");
        let name = self.fresh(what);
        self.initializers.push(pb::TensorProto { name: name.clone(), dims: dims.iter().map(|&d| d as i64).collect(), data_type: DataType::Float as i32, float_data: data, ..Default::default() });
        name
    }

    /// An int64 constant (shapes, axes).
    pub fn shape(&mut self, values: &[i64]) -> String {
        let name = self.fresh("shape");
        self.initializers.push(pb::TensorProto { name: name.clone(), dims: vec![values.len() as i64], data_type: DataType::Int64 as i32, int64_data: values.to_vec(), ..Default::default() });
        name
    }

    /// One node with `outputs` outputs; returns their names.
    pub fn node_n(&mut self, op: &str, inputs: &[&str], outputs: usize, attribute: Vec<pb::AttributeProto>) -> Vec<String> {
        let outs: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        let name = self.fresh(&format!("{op}_node"));
        self.nodes.push(pb::NodeProto { input: inputs.iter().map(|s| s.to_string()).collect(), output: outs.clone(), name, op_type: op.into(), attribute, ..Default::default() });
        outs
    }

    pub fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<pb::AttributeProto>) -> String {
        self.node_n(op, inputs, 1, attribute).pop().expect("one output")
    }

    pub fn reshape(&mut self, x: &str, dims: &[i64]) -> String {
        let s = self.shape(dims);
        self.node("Reshape", &[x, &s], vec![])
    }

    /// The serialised model.
    pub fn into_bytes(self, name: &str, doc: &str) -> Vec<u8> {
        use prost::Message;
        let graph = pb::GraphProto { node: self.nodes, name: name.into(), initializer: self.initializers, input: self.inputs, output: self.outputs, ..Default::default() };
        let model = pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "gddsp-train".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(graph),
            ..Default::default()
        };
        model.encode_to_vec()
    }
}
